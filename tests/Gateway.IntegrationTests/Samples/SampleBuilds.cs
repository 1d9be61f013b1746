namespace Gateway.IntegrationTests.Samples;

/// <summary>
/// Tests that run the <c>dotnet</c> CLI on a sample (a publish, or a whole build against another
/// Gateway.Abstractions): alone, so the compiler does not take the CPU that other tests' timeouts assume.
/// </summary>
[CollectionDefinition(nameof(SampleBuilds), DisableParallelization = true)]
public sealed class SampleBuilds;
