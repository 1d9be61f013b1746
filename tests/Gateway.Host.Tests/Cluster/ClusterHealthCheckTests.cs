using Gateway.Host.Cluster;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Host.Tests.Cluster;

public sealed class ClusterHealthCheckTests
{
    private static readonly TimeSpan s_ttl = TimeSpan.FromSeconds(3);

    private static async Task<HealthCheckResult> CheckAsync(ClusterCoordinator coordinator)
        => await new ClusterHealthCheck(coordinator).CheckHealthAsync(new HealthCheckContext(), CancellationToken.None);

    [Fact]
    public async Task CheckHealthAsync_NotYetJoined_Unhealthy()
    {
        var cluster = new ClusterSimulation(s_ttl, ["a-socket"]);
        var replica = cluster.Add("a");

        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(replica.Coordinator)).Status);
    }

    [Fact]
    public async Task CheckHealthAsync_RedisLostThenBack_HealthyDegradedUnhealthyHealthy()
    {
        var cluster = new ClusterSimulation(s_ttl, ["a-socket", "b-socket"]);
        var replica = cluster.Add("a");
        await cluster.RunAsync(s_ttl * 2);

        var healthy = await CheckAsync(replica.Coordinator);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(2, healthy.Data["owned"]);

        // Sockets still run on their leases: degraded, still ready.
        cluster.Store.Unreachable = true;
        await cluster.RunAsync(s_ttl / 2);
        var degraded = await CheckAsync(replica.Coordinator);
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("cluster Redis unreachable", degraded.Description, StringComparison.Ordinal);

        // A whole TTL without a renewal: every socket is closed.
        await cluster.RunAsync(s_ttl);
        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(replica.Coordinator)).Status);
        Assert.Empty(replica.Coordinator.Owned());

        cluster.Store.Unreachable = false;
        await cluster.RunAsync(s_ttl);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(replica.Coordinator)).Status);
        Assert.Equal(2, replica.Coordinator.Owned().Count);
    }
}
