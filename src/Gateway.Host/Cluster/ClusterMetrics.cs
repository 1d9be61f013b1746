using System.Diagnostics.Metrics;
using Gateway.Host.Metrics;

namespace Gateway.Host.Cluster;

/// <summary>The cluster's instruments on the gateway's meter, each tagged with <c>gateway.replica</c>.</summary>
internal sealed class ClusterMetrics
{
    public const string ReplicaTag = "gateway.replica";

    public ClusterMetrics(IMeterFactory meterFactory, ClusterCoordinator coordinator)
    {
        // The factory hands out one Meter per name: these join GatewayMetrics' instruments.
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        var replica = new KeyValuePair<string, object?>(ReplicaTag, coordinator.ReplicaId);
        meter.CreateObservableGauge("gateway.cluster.owned_sockets", () => new Measurement<int>(coordinator.Owned().Count, replica), "{socket}", "Sockets whose lease this replica holds and runs.");
        meter.CreateObservableGauge("gateway.cluster.members", () => new Measurement<int>(coordinator.Members.Count, replica), "{replica}", "Live replicas at this replica's last renewal.");
        meter.CreateObservableGauge("gateway.cluster.redis_up", () => new Measurement<int>(coordinator.Failure is null ? 1 : 0, replica), "1", "1 while this replica renews its membership and leases in Redis, 0 while it cannot.");
        meter.CreateObservableCounter("gateway.cluster.leases_lost", () => new Measurement<long>(coordinator.LeasesLost, replica), "{lease}", "Leases lost without a handover (not renewed in time, or taken): each closed its socket early.");
    }
}
