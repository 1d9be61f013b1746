using Gateway.Host.Health;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

internal sealed partial class SocketConnection
{
    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Information, "Socket {SocketName} is {State} (attempt {Attempt}).{Detail}")]
        public static partial void StateChanged(ILogger logger, string socketName, SocketState state, int attempt, string? detail);

        [LoggerMessage(101, LogLevel.Information, "Socket {SocketName} connected to {Url} (connection {ConnectionNumber}, subprotocol {SubProtocol}).")]
        public static partial void Connected(ILogger logger, string socketName, Uri url, long connectionNumber, string? subProtocol);

        [LoggerMessage(102, LogLevel.Warning, "Socket {SocketName} could not connect to {Url}: {Error}")]
        public static partial void ConnectFailed(ILogger logger, string socketName, Uri url, string error);

        [LoggerMessage(103, LogLevel.Warning, "Socket {SocketName} connection {ConnectionNumber} ended: {Disconnect} (reason {DisconnectReason}, close code {CloseStatus}, closed by {ClosedBy}).")]
        public static partial void Disconnected(ILogger logger, string socketName, long connectionNumber, string disconnect, string disconnectReason, int? closeStatus, string closedBy);

        [LoggerMessage(104, LogLevel.Information, "Socket {SocketName} reconnects in {Delay} (attempt {Attempt}).")]
        public static partial void Waiting(ILogger logger, string socketName, int attempt, TimeSpan delay);

        [LoggerMessage(105, LogLevel.Error, "Socket {SocketName} gave up after {MaxAttempts} consecutive failed attempts (Reconnect:MaxAttempts).")]
        public static partial void GaveUp(ILogger logger, string socketName, int maxAttempts);

        [LoggerMessage(106, LogLevel.Warning, "Socket {SocketName} connection {ConnectionNumber}: message {Sequence} exceeds MaxMessageSize ({MaxMessageSize} bytes); closing with 1009 and reconnecting.")]
        public static partial void MessageTooBig(ILogger logger, string socketName, long connectionNumber, long sequence, int maxMessageSize);

        [LoggerMessage(107, LogLevel.Warning, "Socket {SocketName} received nothing for {Timeout} (NoMessageTimeout); dropping the connection.")]
        public static partial void SilenceTimeout(ILogger logger, string socketName, TimeSpan timeout);





        [LoggerMessage(113, LogLevel.Information, "Socket {SocketName}: reconnect requested.")]
        public static partial void ReconnectRequested(ILogger logger, string socketName);

        [LoggerMessage(114, LogLevel.Information, "Socket {SocketName} stopped: {FramesReceived} frames received, {FramesHandled} handled, {FramesDropped} dropped, {HandlerErrors} handler errors.")]
        public static partial void StopSummary(ILogger logger, string socketName, long framesReceived, long framesHandled, long framesDropped, long handlerErrors);

        [LoggerMessage(115, LogLevel.Warning, "Socket {SocketName}: {Reason}; closing the connection with {CloseStatus} and reconnecting.")]
        public static partial void ConnectionFailed(ILogger logger, string socketName, string reason, int closeStatus);

        [LoggerMessage(116, LogLevel.Warning, "Socket {SocketName}: the protocol's goodbye failed ({Error}); closing anyway.")]
        public static partial void GoodbyeFailed(ILogger logger, string socketName, string error);

        [LoggerMessage(117, LogLevel.Error, "Socket {SocketName}: its worker failed unexpectedly; it backs off and connects again.")]
        public static partial void WorkerFailed(ILogger logger, string socketName, Exception exception);

        [LoggerMessage(118, LogLevel.Warning, "Socket {SocketName}: {Count} more connection lines (state changes, failed connects, closes, delays) in the last {Interval} were not logged; the socket keeps reconnecting.")]
        public static partial void CycleLinesSuppressed(ILogger logger, string socketName, long count, TimeSpan interval);

        [LoggerMessage(110, LogLevel.Warning, "Socket {SocketName}: TLS certificate validation is OFF for {Url} (DangerousAcceptAnyServerCertificate).")]
        public static partial void CertificateValidationDisabled(ILogger logger, string socketName, Uri url);
    }
}
