using Microsoft.Extensions.Logging;

namespace Gateway.Host.Cluster;

internal sealed partial class ClusterCoordinator
{
    private static partial class Log
    {
        [LoggerMessage(1000, LogLevel.Information, "Socket {SocketName}: lease taken (fencing token {Token}); connecting here.")]
        public static partial void LeaseAcquired(ILogger logger, string socketName, long token);

        [LoggerMessage(1001, LogLevel.Information, "Socket {SocketName}: lease released (fencing token {Token}).")]
        public static partial void LeaseReleased(ILogger logger, string socketName, long token);

        [LoggerMessage(1002, LogLevel.Warning, "Socket {SocketName}: lease (fencing token {Token}) lost: it expired or another replica holds it; closing the socket now.")]
        public static partial void LeaseLost(ILogger logger, string socketName, long token);

        [LoggerMessage(1003, LogLevel.Warning, "Socket {SocketName}: lease not renewed for {Elapsed}; closing the socket before the lease can expire.")]
        public static partial void RenewalOverdue(ILogger logger, string socketName, TimeSpan elapsed);

        [LoggerMessage(1004, LogLevel.Information, "Socket {SocketName} now belongs to replica {Owner}: handing it over (drain, goodbye, close, release).")]
        public static partial void HandingOver(ILogger logger, string socketName, string owner);

        [LoggerMessage(1005, LogLevel.Information, "Replica {ReplicaId}: cluster members are now [{Members}].")]
        public static partial void MembersChanged(ILogger logger, string replicaId, string members);

        [LoggerMessage(1006, LogLevel.Error, "Cluster Redis unreachable: {Error}. Sockets keep running until their leases are {CloseAfter} without renewal, then close.")]
        public static partial void StoreFailing(ILogger logger, string error, TimeSpan closeAfter);

        [LoggerMessage(1007, LogLevel.Information, "Cluster Redis reachable again (last error: {Error}).")]
        public static partial void StoreRecovered(ILogger logger, string error);

        [LoggerMessage(1008, LogLevel.Warning, "Cluster Redis restarted or failed over (its run id changed): no replica takes a lease for {Wait}, until every socket of the old leases is surely closed.")]
        public static partial void Quarantined(ILogger logger, TimeSpan wait);

        [LoggerMessage(1009, LogLevel.Error, "Socket {SocketName} did not close cleanly on losing its lease.")]
        public static partial void CloseFailed(ILogger logger, string socketName, Exception exception);

        [LoggerMessage(1010, LogLevel.Error, "Cluster round failed; trying again.")]
        public static partial void TickFailed(ILogger logger, Exception exception);

        [LoggerMessage(1011, LogLevel.Information, "Replica {ReplicaId} left the cluster: its sockets are closed and their leases released.")]
        public static partial void Left(ILogger logger, string replicaId);
    }
}
