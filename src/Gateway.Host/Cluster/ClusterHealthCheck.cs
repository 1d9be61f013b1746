using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Host.Cluster;

/// <summary>
/// The replica's standing in the cluster: Healthy while it renews its membership and leases; Degraded
/// while Redis does not answer but its sockets still run on the leases they have; Unhealthy once it
/// went a whole lease TTL without a renewal (every socket it had is closed by then). Reads only.
/// </summary>
internal sealed class ClusterHealthCheck(ClusterCoordinator coordinator) : IHealthCheck
{
    public const string Name = "cluster";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var owned = coordinator.Owned();
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["replica"] = coordinator.ReplicaId,
            ["members"] = coordinator.Members,
            ["owned"] = owned.Count,
            ["leasesLost"] = coordinator.LeasesLost,
        };
        if (coordinator.Failure is { } failure)
        {
            data["redisFailingSince"] = failure.Since;
            data["redisError"] = failure.Error;
            return Task.FromResult(failure.SinceLastRenewal >= coordinator.LeaseTtl
                ? HealthCheckResult.Unhealthy($"cluster Redis unreachable since {failure.Since:O} ({failure.Error}); this replica's sockets are closed", data: data)
                : HealthCheckResult.Degraded($"cluster Redis unreachable since {failure.Since:O} ({failure.Error}); sockets close if leases are not renewed within {coordinator.CloseAfter}", data: data));
        }

        return Task.FromResult(coordinator.Members.Count == 0
            ? HealthCheckResult.Unhealthy("not yet a cluster member", data: data)
            : HealthCheckResult.Healthy($"replica {coordinator.ReplicaId}: {coordinator.Members.Count} member(s), owns {owned.Count} socket(s)", data));
    }
}
