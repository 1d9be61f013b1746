namespace Gateway.IntegrationTests.Handlers;

/// <summary>
/// Tests against the one shared Redis run one at a time, apart from the rest: some of them stop and
/// restart the server, which the others must not see.
/// </summary>
[CollectionDefinition(nameof(SharedRedis), DisableParallelization = true)]
public sealed class SharedRedis;
