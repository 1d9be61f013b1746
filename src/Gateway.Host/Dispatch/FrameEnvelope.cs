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

/// <summary>One queue item. A struct, so queueing allocates nothing; its buffer is pooled.</summary>
/// <remarks>
/// Every frame's envelope is copied a few times on its way (the receive loop's batch, the queue's ring, the
/// dispatcher's chunk), and every reference in it costs a GC write barrier per copy. So it holds three: the
/// connection, the buffer (a <see cref="byte"/> array of its own, or a <see cref="SharedBuffer"/>), and the frame's
/// completion (or, for a <see cref="EnvelopeKind.Disconnected"/> item, the reason).
/// </remarks>
internal readonly struct FrameEnvelope
{
    // byte[] (the frame's own pooled buffer) or SharedBuffer (a receive buffer shared with other frames).
    private readonly object? _buffer;

    // IFrameCompletion (a frame's session, for ACK/NACK) or DisconnectReason (a Disconnected item).
    private readonly object? _extra;
    private readonly long _receivedAtTicks;

    private FrameEnvelope(EnvelopeKind kind, UpstreamConnection connection, object? buffer, int offset, int length, FrameKind frameKind, long sequence, DateTimeOffset receivedAt, long timestamp, object? extra, long completionToken, int headersOffset, int headersLength)
    {
        Kind = kind;
        FrameKind = frameKind;
        Connection = connection;
        _buffer = buffer;
        _extra = extra;
        Offset = offset;
        Length = length;
        HeadersOffset = headersOffset;
        HeadersLength = headersLength;
        CompletionToken = completionToken;
        Sequence = sequence;
        _receivedAtTicks = receivedAt.UtcTicks;
        Timestamp = timestamp;
    }

    public EnvelopeKind Kind { get; }

    public FrameKind FrameKind { get; }

    public UpstreamConnection Connection { get; }

    /// <summary>The frame's bytes: its own buffer, rented from <see cref="FrameBufferPool"/>, or <see cref="Shared"/>'s array.</summary>
    public byte[]? Buffer => _buffer is SharedBuffer shared ? shared.Array : (byte[]?)_buffer;

    /// <summary>Set when <see cref="Buffer"/> is a receive buffer shared with other frames: the envelope holds one reference.</summary>
    public SharedBuffer? Shared => _buffer as SharedBuffer;

    public int Offset { get; }

    public int Length { get; }

    /// <summary>The protocol's header block in <see cref="Buffer"/> (<see cref="FrameHeaders"/>); empty for raw frames.</summary>
    public int HeadersOffset { get; }

    public int HeadersLength { get; }

    /// <summary>The session to tell the frame's outcome (STOMP: ACK/NACK); null for raw frames.</summary>
    public IFrameCompletion? Completion => _extra as IFrameCompletion;

    public long CompletionToken { get; }

    public long Sequence { get; }

    public DateTimeOffset ReceivedAt => new(_receivedAtTicks, TimeSpan.Zero);

    public long Timestamp { get; }

    /// <summary>Why the connection ended (<see cref="EnvelopeKind.Disconnected"/> only).</summary>
    public DisconnectReason? Reason => _extra as DisconnectReason;

    /// <summary>A frame in a buffer of its own (returned to the socket's pool when the frame ends).</summary>
    public static FrameEnvelope ForFrame(UpstreamConnection connection, byte[] buffer, int offset, int length, FrameKind kind, long sequence, DateTimeOffset receivedAt, long timestamp, IFrameCompletion? completion = null, long completionToken = 0, int headersOffset = 0, int headersLength = 0)
        => new(EnvelopeKind.Frame, connection, buffer, offset, length, kind, sequence, receivedAt, timestamp, completion, completionToken, headersOffset, headersLength);

    /// <summary>A frame in a receive buffer shared with other frames; the envelope holds one of its references.</summary>
    public static FrameEnvelope ForFrame(UpstreamConnection connection, SharedBuffer buffer, int offset, int length, FrameKind kind, long sequence, DateTimeOffset receivedAt, long timestamp, IFrameCompletion? completion = null, long completionToken = 0, int headersOffset = 0, int headersLength = 0)
        => new(EnvelopeKind.Frame, connection, buffer, offset, length, kind, sequence, receivedAt, timestamp, completion, completionToken, headersOffset, headersLength);

    public static FrameEnvelope ForConnected(UpstreamConnection connection)
        => new(EnvelopeKind.Connected, connection, null, 0, 0, default, 0, default, 0, null, 0, 0, 0);

    public static FrameEnvelope ForDisconnected(UpstreamConnection connection, DisconnectReason reason)
        => new(EnvelopeKind.Disconnected, connection, null, 0, 0, default, 0, default, 0, reason, 0, 0, 0);

    /// <summary>Gives the frame's buffer back: drops its reference to a shared one, or returns its own to <paramref name="pool"/>.</summary>
    public void ReturnBuffer(FrameBufferPool pool)
    {
        if (_buffer is SharedBuffer shared)
        {
            shared.Release();
        }
        else if (_buffer is byte[] buffer)
        {
            pool.Return(buffer);
        }
    }

    public Frame ToFrame(IFrameSettler? settler = null)
    {
        var buffer = Buffer;
        return new(Connection, Sequence, FrameKind, buffer.AsMemory(Offset, Length), new FrameHeaders(buffer.AsMemory(HeadersOffset, HeadersLength)), ReceivedAt, Timestamp, settler);
    }
}
