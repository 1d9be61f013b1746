using Microsoft.Extensions.Logging;

namespace Gateway.Host.Handlers;

internal sealed partial class RabbitMqSink
{
    private static partial class Log
    {
        [LoggerMessage(510, LogLevel.Information, "Sink {Sink} (rabbitmq) connected to {Uri}.")]
        public static partial void Connected(ILogger logger, string sink, Uri? uri);

        [LoggerMessage(511, LogLevel.Warning, "Sink {Sink} (rabbitmq) could not connect to {Uri}: {Error}; next attempt in {Delay} at the earliest.")]
        public static partial void ConnectFailed(ILogger logger, string sink, Uri? uri, string error, TimeSpan delay);

        [LoggerMessage(512, LogLevel.Warning, "Sink {Sink} (rabbitmq) lost its connection to {Uri}: {Error}; the client reconnects every {Interval}.")]
        public static partial void ConnectionLost(ILogger logger, string sink, Uri? uri, string error, TimeSpan interval);

        [LoggerMessage(513, LogLevel.Warning, "Sink {Sink} (rabbitmq) could not reconnect to {Uri}: {Error}.")]
        public static partial void RecoveryFailed(ILogger logger, string sink, Uri? uri, string error);

        [LoggerMessage(514, LogLevel.Information, "Sink {Sink} (rabbitmq) reconnected to {Uri}.")]
        public static partial void Recovered(ILogger logger, string sink, Uri? uri);

        [LoggerMessage(515, LogLevel.Warning, "Sink {Sink} (rabbitmq): {Uri} closed the channel: {Error}; the next publish opens a new one.")]
        public static partial void ChannelClosed(ILogger logger, string sink, Uri? uri, string error);

        [LoggerMessage(516, LogLevel.Information, "Sink {Sink} (rabbitmq) opened a new channel on {Uri}.")]
        public static partial void ChannelReopened(ILogger logger, string sink, Uri? uri);

        [LoggerMessage(517, LogLevel.Debug, "Sink {Sink} (rabbitmq): frame {SocketName}/{Sequence} was not confirmed ({Error}); publishing it again in {Delay}.")]
        public static partial void Retrying(ILogger logger, string sink, string socketName, long sequence, string error, TimeSpan delay);

        [LoggerMessage(518, LogLevel.Error, "Sink {Sink} (rabbitmq) is not configured correctly; every frame it gets fails. {Error}")]
        public static partial void InvalidConfiguration(ILogger logger, string sink, string error);
    }
}
