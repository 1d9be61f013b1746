using Gateway.Host.Health;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

internal sealed partial class SocketConnection
{
    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Information, "Socket {SocketName} is {State} (attempt {Attempt}).")]
        public static partial void StateChanged(ILogger logger, string socketName, SocketState state, int attempt);

        [LoggerMessage(101, LogLevel.Information, "Socket {SocketName} connected to {Url} (connection {ConnectionNumber}, subprotocol {SubProtocol}).")]
        public static partial void Connected(ILogger logger, string socketName, Uri url, long connectionNumber, string? subProtocol);

        [LoggerMessage(102, LogLevel.Warning, "Socket {SocketName} could not connect to {Url} (HTTP {HttpStatus}): {Error}")]
        public static partial void ConnectFailed(ILogger logger, string socketName, Uri url, int? httpStatus, string error);

        [LoggerMessage(103, LogLevel.Warning, "Socket {SocketName} connection {ConnectionNumber} closed: code {CloseStatus} '{CloseDescription}', by gateway {ClosedByGateway}, error {Error}.")]
        public static partial void Disconnected(ILogger logger, string socketName, long connectionNumber, int? closeStatus, string? closeDescription, bool closedByGateway, string? error);

        [LoggerMessage(104, LogLevel.Information, "Socket {SocketName} reconnects in {Delay} (attempt {Attempt}).")]
        public static partial void Waiting(ILogger logger, string socketName, int attempt, TimeSpan delay);

        [LoggerMessage(105, LogLevel.Error, "Socket {SocketName} gave up after {MaxAttempts} reconnect attempts (Reconnect:MaxAttempts).")]
        public static partial void GaveUp(ILogger logger, string socketName, int maxAttempts);

        [LoggerMessage(106, LogLevel.Warning, "Socket {SocketName} connection {ConnectionNumber}: message {Sequence} exceeds MaxMessageSize ({MaxMessageSize} bytes); closing with 1009 and reconnecting.")]
        public static partial void MessageTooBig(ILogger logger, string socketName, long connectionNumber, long sequence, int maxMessageSize);

        [LoggerMessage(107, LogLevel.Warning, "Socket {SocketName} received nothing for {Timeout} (NoMessageTimeout); dropping the connection.")]
        public static partial void SilenceTimeout(ILogger logger, string socketName, TimeSpan timeout);

        [LoggerMessage(108, LogLevel.Warning, "Socket {SocketName}: a send failed; the connection will be re-established.")]
        public static partial void SendFailed(ILogger logger, string socketName, Exception exception);

        [LoggerMessage(109, LogLevel.Debug, "Socket {SocketName}: close handshake incomplete ({Error}); connection aborted.")]
        public static partial void CloseFailed(ILogger logger, string socketName, string error);

        [LoggerMessage(111, LogLevel.Warning, "Socket {SocketName}: a queued message waited longer than Outbound:MaxAge ({MaxAge}) and was dropped, not sent.")]
        public static partial void OutboundExpired(ILogger logger, string socketName, TimeSpan maxAge);

        [LoggerMessage(112, LogLevel.Warning, "Socket {SocketName} stopped with {Count} outbound messages not written ({ReportedQueued} of them reported as queued to their senders); they are dropped.")]
        public static partial void OutboundDroppedAtStop(ILogger logger, string socketName, int count, int reportedQueued);

        [LoggerMessage(113, LogLevel.Information, "Socket {SocketName}: reconnect requested.")]
        public static partial void ReconnectRequested(ILogger logger, string socketName);

        [LoggerMessage(114, LogLevel.Information, "Socket {SocketName} stopped: {FramesReceived} frames received, {FramesHandled} handled, {FramesDropped} dropped, {HandlerErrors} handler errors.")]
        public static partial void StopSummary(ILogger logger, string socketName, long framesReceived, long framesHandled, long framesDropped, long handlerErrors);

        [LoggerMessage(110, LogLevel.Warning, "Socket {SocketName}: TLS certificate validation is OFF for {Url} (DangerousAcceptAnyServerCertificate).")]
        public static partial void CertificateValidationDisabled(ILogger logger, string socketName, Uri url);
    }
}
