using System.Text;

namespace Gateway;

/// <summary>One message received from an upstream socket.</summary>
/// <remarks>
/// <see cref="Payload"/> is borrowed from the gateway's buffer pool and is valid only until the
/// <see cref="IFrameHandler.HandleAsync"/> call that received it completes. A handler that keeps
/// the data longer copies it first (<c>frame.Payload.ToArray()</c> or <see cref="GetText"/>).
/// </remarks>
public readonly struct Frame
{
    /// <summary>Creates a frame.</summary>
    public Frame(UpstreamConnection connection, long sequence, FrameKind kind, ReadOnlyMemory<byte> payload, DateTimeOffset receivedAt, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(connection);
        Connection = connection;
        Sequence = sequence;
        Kind = kind;
        Payload = payload;
        ReceivedAt = receivedAt;
        Timestamp = timestamp;
    }

    /// <summary>Creates a frame with the headers its protocol carried.</summary>
    public Frame(UpstreamConnection connection, long sequence, FrameKind kind, ReadOnlyMemory<byte> payload, FrameHeaders headers, DateTimeOffset receivedAt, long timestamp)
        : this(connection, sequence, kind, payload, receivedAt, timestamp)
    {
        Headers = headers;
    }

    /// <summary>Creates a frame whose handlers may take over its settlement (<see cref="Defer"/>) through <paramref name="settler"/>.</summary>
    public Frame(UpstreamConnection connection, long sequence, FrameKind kind, ReadOnlyMemory<byte> payload, FrameHeaders headers, DateTimeOffset receivedAt, long timestamp, IFrameSettler? settler)
        : this(connection, sequence, kind, payload, headers, receivedAt, timestamp)
    {
        _settler = settler;
    }

    private readonly IFrameSettler? _settler;

    /// <summary>
    /// Takes over this frame's settlement, for a handler that hands frames to a sink with confirmations
    /// (a broker, a stream): call it during <see cref="IFrameHandler.HandleAsync"/>, copy what you need
    /// (the payload is valid only until the call returns), return, and settle later. The gateway moves
    /// on to the next frame meanwhile (at most the socket's <c>MaxInFlight</c> frames await settlement)
    /// and acknowledges the frame upstream only once it is settled.
    /// </summary>
    /// <returns>The settlement to call once the sink confirmed or refused the frame.</returns>
    /// <exception cref="InvalidOperationException">The frame was not dispatched by the gateway (or a settler).</exception>
    public FrameSettlement Defer()
        => _settler is { } settler ? settler.Defer(this) : throw new InvalidOperationException("This frame cannot be deferred: it was not dispatched with a settler.");

    /// <summary>The connection the frame arrived on, with its state bag.</summary>
    public UpstreamConnection Connection { get; }

    /// <summary>The configured name of the socket the frame arrived on.</summary>
    public string SocketName => Connection.SocketName;

    /// <summary>The connection number within the socket: 1 for the first connection, then one more per reconnect.</summary>
    public long ConnectionNumber => Connection.Number;

    /// <summary>The frame's number within its socket, starting at 1 and increasing across reconnects.</summary>
    /// <remarks>A gap between two handled frames means frames were dropped by the socket's queue policy.</remarks>
    public long Sequence { get; }

    /// <summary>Whether <see cref="Payload"/> is text or binary.</summary>
    public FrameKind Kind { get; }

    /// <summary>The message bytes (UTF-8 for text).</summary>
    /// <remarks>Valid only until the handler call that received the frame completes.</remarks>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The protocol's headers for this frame (STOMP: <c>destination</c>, <c>message-id</c>, ...); empty for raw frames.</summary>
    /// <remarks>Valid only until the handler call that received the frame completes, like <see cref="Payload"/>.</remarks>
    public FrameHeaders Headers { get; }

    /// <summary>The wall-clock time at which the last byte of the message was read.</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>The <see cref="TimeProvider.GetTimestamp"/> value at which the message was read, for measuring lag.</summary>
    public long Timestamp { get; }

    /// <summary>Decodes the payload as UTF-8 into a new string.</summary>
    /// <returns>The payload as text; binary payloads are decoded too, with invalid bytes replaced.</returns>
    public string GetText() => Encoding.UTF8.GetString(Payload.Span);
}
