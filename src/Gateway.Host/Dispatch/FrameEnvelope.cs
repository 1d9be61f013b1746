using Gateway.Host.Protocols;
using Gateway.Host.Transport;

namespace Gateway.Host.Dispatch;

/// <summary>What travels through a socket's queue: a frame, or a connection starting or ending.</summary>
internal enum EnvelopeKind : byte
{
    Frame,
    Connected,
    Disconnected,
}

/// <summary>One queue item. A struct, so queueing allocates nothing; <see cref="Buffer"/> is pooled.</summary>
internal readonly struct FrameEnvelope
{
    private FrameEnvelope(EnvelopeKind kind, UpstreamConnection connection, byte[]? buffer, int offset, int length, FrameKind frameKind, long sequence, DateTimeOffset receivedAt, long timestamp, DisconnectReason? reason, IFrameCompletion? completion, long completionToken)
    {
        Kind = kind;
        Connection = connection;
        Buffer = buffer;
        Offset = offset;
        Length = length;
        Completion = completion;
        CompletionToken = completionToken;
        FrameKind = frameKind;
        Sequence = sequence;
        ReceivedAt = receivedAt;
        Timestamp = timestamp;
        Reason = reason;
    }

    public EnvelopeKind Kind { get; }

    public UpstreamConnection Connection { get; }

    /// <summary>Rented from <see cref="Transport.FrameBufferPool"/>; returned once the frame is handled or dropped.</summary>
    public byte[]? Buffer { get; }

    public int Offset { get; }

    public int Length { get; }

    /// <summary>The protocol's header block in <see cref="Buffer"/> (<see cref="FrameHeaders"/>); empty for raw frames.</summary>
    public int HeadersOffset { get; init; }

    public int HeadersLength { get; init; }

    /// <summary>Set when <see cref="Buffer"/> is a receive buffer shared with other frames: the envelope holds one reference.</summary>
    public SharedBuffer? Shared { get; init; }

    /// <summary>The session to tell the frame's outcome (STOMP: ACK/NACK); null for raw frames.</summary>
    public IFrameCompletion? Completion { get; }

    public long CompletionToken { get; }

    public FrameKind FrameKind { get; }

    public long Sequence { get; }

    public DateTimeOffset ReceivedAt { get; }

    public long Timestamp { get; }

    public DisconnectReason? Reason { get; }

    public static FrameEnvelope ForFrame(UpstreamConnection connection, byte[] buffer, int offset, int length, FrameKind kind, long sequence, DateTimeOffset receivedAt, long timestamp, IFrameCompletion? completion = null, long completionToken = 0)
        => new(EnvelopeKind.Frame, connection, buffer, offset, length, kind, sequence, receivedAt, timestamp, null, completion, completionToken);

    public static FrameEnvelope ForConnected(UpstreamConnection connection)
        => new(EnvelopeKind.Connected, connection, null, 0, 0, default, 0, default, 0, null, null, 0);

    public static FrameEnvelope ForDisconnected(UpstreamConnection connection, DisconnectReason reason)
        => new(EnvelopeKind.Disconnected, connection, null, 0, 0, default, 0, default, 0, reason, null, 0);

    /// <summary>Gives the frame's buffer back: drops its reference to a shared one, or returns its own to <paramref name="pool"/>.</summary>
    public void ReturnBuffer(FrameBufferPool pool)
    {
        if (Shared is { } shared)
        {
            shared.Release();
        }
        else if (Buffer is { } buffer)
        {
            pool.Return(buffer);
        }
    }

    public Frame ToFrame(IFrameSettler? settler = null)
        => new(Connection, Sequence, FrameKind, Buffer.AsMemory(Offset, Length), new FrameHeaders(Buffer.AsMemory(HeadersOffset, HeadersLength)), ReceivedAt, Timestamp, settler);
}
