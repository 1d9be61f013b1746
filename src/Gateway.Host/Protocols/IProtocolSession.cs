using System.Buffers;
using Gateway.Host.Configuration;

namespace Gateway.Host.Protocols;

/// <summary>
/// A protocol's side of one connection: the handshake, control traffic, which messages become
/// frames, encoding sends, acknowledging outcomes, the goodbye. Called by one connection only; a
/// reconnect creates a new session, so resubscribing needs no extra code.
/// </summary>
internal interface IProtocolSession : IFrameCompletion
{
    /// <summary>
    /// Runs the handshake (raw: the <c>OnConnect</c> messages; STOMP: CONNECT and SUBSCRIBE; Phoenix:
    /// joins) and calls <see cref="IProtocolConnection.SetReady"/> when done; bounded by
    /// <c>HandshakeTimeout</c>, cancelled when the connection ends.
    /// </summary>
    ValueTask StartAsync(CancellationToken cancellationToken);

    /// <summary>A complete message arrived (on the receive loop: no blocking, no allocation for plain data).</summary>
    ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame);

    /// <summary>
    /// After <see cref="ReceiveDecision.Deliver"/>: the next frame the same message holds (STOMP sends
    /// several frames in one message), until it returns <see langword="false"/>. Raw: never one.
    /// </summary>
    bool TryNextFrame(ReadOnlySpan<byte> message, out InboundFrame frame)
    {
        frame = default;
        return false;
    }

    /// <summary>
    /// Encodes a user send (validated by <see cref="IProtocol.Validate"/>) at write time, so it carries
    /// the session's current state (refs, receipts, the open batch). Returns the bytes to write, and a
    /// non-zero <paramref name="replyKey"/> when the send is confirmed by a reply
    /// (<see cref="IProtocolConnection.CompleteReply"/>) rather than by being written; inside a batch, 0.
    /// </summary>
    ReadOnlyMemory<byte> Encode(in Sockets.OutboundPart part, ArrayBufferWriter<byte> scratch, out FrameKind wireKind, out long replyKey);

    /// <summary>Opens a batch: what to write before its first message (STOMP BEGIN), or nothing (raw: written back to back).</summary>
    ReadOnlyMemory<byte> BeginBatch(ArrayBufferWriter<byte> scratch) => default;

    /// <summary>Closes the open batch after its last message (STOMP COMMIT with a receipt); <paramref name="replyKey"/> as for <see cref="Encode"/>.</summary>
    ReadOnlyMemory<byte> CommitBatch(ArrayBufferWriter<byte> scratch, out long replyKey)
    {
        replyKey = 0;
        return default;
    }

    /// <summary>The open batch was cut off between two messages (STOMP ABORT), or nothing.</summary>
    ReadOnlyMemory<byte> AbortBatch(ArrayBufferWriter<byte> scratch) => default;

    /// <summary>A reload changed only the socket's subscriptions: apply them on this connection (STOMP: UNSUBSCRIBE, SUBSCRIBE).</summary>
    void OnSubscriptionsChanged(SocketOptions options)
    {
    }

    /// <summary>From the shared watchdog: heart-beats and deadlines (no timer per connection).</summary>
    void OnTick(long timestamp);

    /// <summary>Shutdown: later messages are not delivered (they end <see cref="FrameOutcome.Lost"/>).</summary>
    void StopDelivering();

    /// <summary>The protocol's goodbye before the close frame (STOMP DISCONNECT, Phoenix phx_leave); bounded by the caller.</summary>
    ValueTask GoodbyeAsync(CancellationToken cancellationToken);
}
