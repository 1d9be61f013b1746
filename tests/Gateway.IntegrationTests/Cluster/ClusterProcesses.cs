namespace Gateway.IntegrationTests.Cluster;

/// <summary>Cluster tests run three gateway processes or more each: one at a time, apart from the rest.</summary>
[CollectionDefinition(nameof(ClusterProcesses), DisableParallelization = true)]
public sealed class ClusterProcesses;
