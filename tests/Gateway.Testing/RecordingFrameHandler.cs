using System.Collections.Concurrent;

namespace Gateway.Testing;

/// <summary>A frame as a handler saw it, with the payload copied out.</summary>
public sealed record RecordedFrame(string Socket, long Connection, long Sequence, FrameKind Kind, byte[] Payload, object? StateAtFrame)
{
    /// <summary>The frame's headers, decoded while the handler had them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public string Text => System.Text.Encoding.UTF8.GetString(Payload);
}

/// <summary>Records every frame and lifecycle call; can be paused to fill queues.</summary>
public class RecordingFrameHandler : IFrameHandler
{
    public const string Name = "record";
    public const string StateKey = "test.state";

    private readonly ManualResetEventSlim _open = new(initialState: true);

    public ConcurrentQueue<RecordedFrame> Frames { get; } = new();

    /// <summary>"connected:socket:n" and "disconnected:socket:n:code" entries, in order.</summary>
    public ConcurrentQueue<string> Events { get; } = new();

    public ConcurrentQueue<DisconnectReason> DisconnectReasons { get; } = new();

    public IEnumerable<RecordedFrame> For(string socket) => Frames.Where(f => f.Socket == socket);

    /// <summary>Makes the next frames wait in the handler until <see cref="Resume"/>.</summary>
    public void Pause() => _open.Reset();

    public void Resume() => _open.Set();

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        _open.Wait(cancellationToken);
        frame.Connection.Items.TryGetValue(StateKey, out var state);
        Frames.Enqueue(new RecordedFrame(frame.SocketName, frame.ConnectionNumber, frame.Sequence, frame.Kind, frame.Payload.ToArray(), state) { Headers = frame.Headers.ToList() });
        return ValueTask.CompletedTask;
    }

    public ValueTask OnConnectedAsync(UpstreamConnection connection, CancellationToken cancellationToken)
    {
        var fresh = !connection.Items.ContainsKey(StateKey);
        connection.Items[StateKey] = $"state-of-{connection.Number}{(fresh ? string.Empty : "-stale")}";
        Events.Enqueue($"connected:{connection.SocketName}:{connection.Number}");
        return ValueTask.CompletedTask;
    }

    public ValueTask OnDisconnectedAsync(UpstreamConnection connection, DisconnectReason reason, CancellationToken cancellationToken)
    {
        DisconnectReasons.Enqueue(reason);
        Events.Enqueue($"disconnected:{connection.SocketName}:{connection.Number}:{(int?)reason.CloseStatus}");
        return ValueTask.CompletedTask;
    }
}

/// <summary>Throws on every frame whose text contains "boom".</summary>
public sealed class ThrowingFrameHandler : IFrameHandler
{
    public const string Name = "throw";

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
        => frame.GetText().Contains("boom", StringComparison.Ordinal)
            ? throw new InvalidOperationException($"boom at {frame.Sequence}")
            : ValueTask.CompletedTask;
}
