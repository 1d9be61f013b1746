using System.Collections.Concurrent;
using Gateway;

namespace EmbeddedGateway;

/// <summary>Counts the frames of each socket; the application's own endpoint (<c>GET /counts</c>) reads them.</summary>
internal sealed class FrameCountHandler : IFrameHandler
{
    public const string Name = "count";

    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> Counts => _counts;

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        _counts.AddOrUpdate(frame.SocketName, 1, static (_, count) => count + 1);
        return ValueTask.CompletedTask;
    }
}
