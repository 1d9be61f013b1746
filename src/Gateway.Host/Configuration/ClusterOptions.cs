namespace Gateway.Host.Configuration;

/// <summary>
/// <c>Gateway:Cluster</c>: several replicas share the sockets through Redis leases (docs/operations.md#scale-out).
/// Absent, the gateway runs alone. Read at start only; a change needs a restart.
/// </summary>
internal sealed class ClusterOptions
{
    public static readonly TimeSpan MinLeaseTtl = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxLeaseTtl = TimeSpan.FromMinutes(5);

    /// <summary>The StackExchange.Redis connection string, e.g. <c>redis:6379</c>.</summary>
    public string? Redis { get; set; }

    /// <summary>The cluster's name: the prefix of its Redis keys, so that several clusters can share one Redis.</summary>
    /// <value>The default value is <c>gateway</c>.</value>
    public string Name { get; set; } = "gateway";

    /// <summary>How long a lease or a membership lasts without renewal; both are renewed every third of it.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>This replica's id, unique in the cluster.</summary>
    /// <value>The default value is the host name (a Kubernetes pod's name).</value>
    public string ReplicaId { get; set; } = Environment.MachineName;
}
