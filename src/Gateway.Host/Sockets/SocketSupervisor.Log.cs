using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

internal sealed partial class SocketSupervisor
{
    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Critical, "Invalid configuration: {Error}")]
        public static partial void InvalidConfiguration(ILogger logger, string error);

        [LoggerMessage(401, LogLevel.Error, "Configuration reload rejected, the running configuration stays: {Error}")]
        public static partial void ReloadRejected(ILogger logger, string error);

        [LoggerMessage(402, LogLevel.Error, "Configuration reload failed; the running configuration stays.")]
        public static partial void ReloadFailed(ILogger logger, Exception exception);

        [LoggerMessage(403, LogLevel.Information, "Socket {SocketName} added.")]
        public static partial void SocketAdded(ILogger logger, string socketName);

        [LoggerMessage(404, LogLevel.Information, "Socket {SocketName} removed.")]
        public static partial void SocketRemoved(ILogger logger, string socketName);

        [LoggerMessage(405, LogLevel.Information, "Socket {SocketName} changed; restarting it.")]
        public static partial void SocketChanged(ILogger logger, string socketName);

        [LoggerMessage(407, LogLevel.Information, "Socket {SocketName} is disabled (Enabled: false): listed, not connected, not counted for readiness.")]
        public static partial void SocketDisabled(ILogger logger, string socketName);

        [LoggerMessage(406, LogLevel.Information, "Socket {SocketName} handlers changed to [{Handlers}]; applied without reconnecting.")]
        public static partial void HandlersChanged(ILogger logger, string socketName, string handlers);

        [LoggerMessage(411, LogLevel.Information, "Socket {SocketName} subscriptions changed; applied on the open connection without reconnecting.")]
        public static partial void SubscriptionsChanged(ILogger logger, string socketName);

        [LoggerMessage(408, LogLevel.Error, "{Problem} Not applied: the running configuration stays until the file is fixed.")]
        public static partial void ConfigurationFileBroken(ILogger logger, string problem);

        [LoggerMessage(409, LogLevel.Information, "Configuration file {File} reads again.")]
        public static partial void ConfigurationFileRepaired(ILogger logger, string file);

        [LoggerMessage(410, LogLevel.Warning, "Configuration reload held back, the running configuration stays: a configuration file could not be read. {Problem}")]
        public static partial void ReloadHeldBack(ILogger logger, string problem);

        [LoggerMessage(150, LogLevel.Information, "Stopping {Count} sockets within {Timeout}.")]
        public static partial void Stopping(ILogger logger, int count, TimeSpan timeout);

        [LoggerMessage(151, LogLevel.Error, "Socket {SocketName} did not stop cleanly.")]
        public static partial void StopFailed(ILogger logger, string socketName, Exception exception);
    }
}
