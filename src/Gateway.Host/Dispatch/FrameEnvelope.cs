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
    private FrameEnvelope(EnvelopeKind kind, UpstreamConnection connection, byte[]? buffer, int length, FrameKind frameKind, long sequence, DateTimeOffset receivedAt, long timestamp, DisconnectReason? reason)
    {
        Kind = kind;
        Connection = connection;
        Buffer = buffer;
        Length = length;
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

    public int Length { get; }

    public FrameKind FrameKind { get; }

    public long Sequence { get; }

    public DateTimeOffset ReceivedAt { get; }

    public long Timestamp { get; }

    public DisconnectReason? Reason { get; }

    public static FrameEnvelope ForFrame(UpstreamConnection connection, byte[] buffer, int length, FrameKind kind, long sequence, DateTimeOffset receivedAt, long timestamp)
        => new(EnvelopeKind.Frame, connection, buffer, length, kind, sequence, receivedAt, timestamp, null);

    public static FrameEnvelope ForConnected(UpstreamConnection connection)
        => new(EnvelopeKind.Connected, connection, null, 0, default, 0, default, 0, null);

    public static FrameEnvelope ForDisconnected(UpstreamConnection connection, DisconnectReason reason)
        => new(EnvelopeKind.Disconnected, connection, null, 0, default, 0, default, 0, reason);

    public Frame ToFrame() => new(Connection, Sequence, FrameKind, Buffer.AsMemory(0, Length), ReceivedAt, Timestamp);
}
