using Microsoft.Extensions.Logging;

namespace Gateway.Host.Protocols.Phoenix;

internal sealed partial class PhoenixSession
{
    private static partial class Log
    {
        [LoggerMessage(700, LogLevel.Information, "Socket {SocketName} joined Phoenix topic {Topic} (join_ref {JoinRef}).")]
        public static partial void Joined(ILogger logger, string socketName, string topic, long joinRef);

        [LoggerMessage(701, LogLevel.Warning, "Socket {SocketName}: Phoenix topic {Topic} is not joined: {Error}; rejoining in {Delay}.")]
        public static partial void ChannelFailed(ILogger logger, string socketName, string topic, string error, TimeSpan delay);

        [LoggerMessage(702, LogLevel.Debug, "Socket {SocketName}: dropped a {Event} message of an earlier join of Phoenix topic {Topic}.")]
        public static partial void StaleMessage(ILogger logger, string socketName, string topic, string @event);
    }
}
