using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

internal sealed partial class OutboundPipeline
{
    private static partial class Log
    {
        [LoggerMessage(108, LogLevel.Warning, "Socket {SocketName}: a send failed ({Error}); the connection will be re-established.")]
        public static partial void SendFailed(ILogger logger, string socketName, string error);

        [LoggerMessage(109, LogLevel.Debug, "Socket {SocketName}: close handshake incomplete ({Error}); connection aborted.")]
        public static partial void CloseFailed(ILogger logger, string socketName, string error);

        [LoggerMessage(111, LogLevel.Warning, "Socket {SocketName}: a queued message waited longer than Outbound:MaxAge ({MaxAge}) and was dropped, not sent.")]
        public static partial void OutboundExpired(ILogger logger, string socketName, TimeSpan maxAge);

        [LoggerMessage(119, LogLevel.Warning, "Socket {SocketName} disconnected with {Count} outbound messages not written ({ReportedQueued} of them reported as queued to their senders); Outbound:WhileDisconnected is Reject, so they are dropped.")]
        public static partial void OutboundDroppedAtDisconnect(ILogger logger, string socketName, int count, int reportedQueued);

        [LoggerMessage(112, LogLevel.Warning, "Socket {SocketName} stopped with {Count} outbound messages not written ({ReportedQueued} of them reported as queued to their senders); they are dropped.")]
        public static partial void OutboundDroppedAtStop(ILogger logger, string socketName, int count, int reportedQueued);

        [LoggerMessage(120, LogLevel.Information, "Socket {SocketName}: a batch was cancelled by its sender while being written; its transaction was aborted and the rest of it not sent.")]
        public static partial void BatchAborted(ILogger logger, string socketName);
    }
}
