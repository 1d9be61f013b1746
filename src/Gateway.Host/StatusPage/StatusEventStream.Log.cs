using Microsoft.Extensions.Logging;

namespace Gateway.Host.StatusPage;

internal sealed partial class StatusEventStream
{
    // The status page: 800-899.
    private static partial class Log
    {
        [LoggerMessage(800, LogLevel.Warning, "Status page: dropped an /events client that did not read its last {Capacity} events; its browser reconnects to a fresh snapshot.")]
        public static partial void SlowClientDropped(ILogger logger, int capacity);

        [LoggerMessage(801, LogLevel.Error, "Status page: the event stream failed to publish; it goes on with the next change.")]
        public static partial void PumpFailed(ILogger logger, Exception exception);
    }
}
