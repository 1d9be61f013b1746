using System.Text;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Handlers;

/// <summary>The built-in <c>log</c> handler: one structured log line per frame, payload truncated.</summary>
internal sealed partial class LoggingFrameHandler(ILogger<LoggingFrameHandler> logger) : IFrameHandler
{
    public const string Name = "log";
    internal const int MaxPreviewBytes = 256;

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            Log.Frame(logger, frame.SocketName, frame.ConnectionNumber, frame.Sequence, frame.Kind, frame.Payload.Length, Preview(frame));
        }

        return ValueTask.CompletedTask;
    }

    internal static string Preview(in Frame frame)
    {
        var span = frame.Payload.Span;
        var truncated = span.Length > MaxPreviewBytes;
        var cut = truncated ? MaxPreviewBytes : span.Length;
        if (truncated && frame.Kind == FrameKind.Text)
        {
            // Cut before a character whose UTF-8 bytes straddle the limit (continuation bytes are 10xxxxxx).
            while (cut > 0 && (span[cut] & 0xC0) == 0x80)
            {
                cut--;
            }
        }

        var head = span[..cut];
        var text = frame.Kind == FrameKind.Text ? Encoding.UTF8.GetString(head) : Convert.ToBase64String(head);
        return truncated ? text + "…" : text;
    }

    private static partial class Log
    {
        [LoggerMessage(500, LogLevel.Information, "Frame {SocketName}/{ConnectionNumber}/{Sequence} {Kind} {Length} B: {Payload}")]
        public static partial void Frame(ILogger logger, string socketName, long connectionNumber, long sequence, FrameKind kind, int length, string payload);
    }
}
