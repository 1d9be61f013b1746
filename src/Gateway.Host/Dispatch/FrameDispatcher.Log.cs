using Microsoft.Extensions.Logging;

namespace Gateway.Host.Dispatch;

internal sealed partial class FrameDispatcher
{
    private static partial class Log
    {
        [LoggerMessage(300, LogLevel.Error, "Handler {HandlerName} failed on socket {SocketName} frame {Sequence} ({SuppressedCount} more failures since the last report).")]
        public static partial void HandlerFailed(ILogger logger, string handlerName, string socketName, long sequence, long suppressedCount, Exception exception);

        [LoggerMessage(301, LogLevel.Warning, "Socket {SocketName} dropped frame {Sequence}: {Reason} ({SuppressedCount} more drops since the last report).")]
        public static partial void FrameDropped(ILogger logger, string socketName, long sequence, string reason, long suppressedCount);

        [LoggerMessage(302, LogLevel.Warning, "Socket {SocketName} stopped with {Count} frames not handled within {Timeout}; they are counted as dropped (reason shutdown).")]
        public static partial void FramesLostAtStop(ILogger logger, string socketName, long count, TimeSpan timeout);

        [LoggerMessage(303, LogLevel.Critical, "The dispatcher of socket {SocketName} failed; frames of this socket are no longer handled.")]
        public static partial void DispatcherFailed(ILogger logger, string socketName, Exception exception);
    }
}
