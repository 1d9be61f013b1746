using System.Net.WebSockets;

namespace Gateway.Host.Protocols;

/// <summary>What a session may do to its connection; implemented by the socket's worker, one per connection.</summary>
internal interface IProtocolConnection
{
    string SocketName { get; }

    /// <summary>The socket's subscriptions in health, in configuration order (STOMP); empty otherwise.</summary>
    IReadOnlyList<Health.SubscriptionStatus> Subscriptions { get; }

    /// <summary>The socket's receive buffers, for a frame the session assembles from several messages (<see cref="InboundFrame.Buffer"/>).</summary>
    Transport.FrameBufferPool Pool { get; }

    /// <summary>Writes a control message ahead of queued user sends (handshake, ACK, heart-beat); completes once written.</summary>
    ValueTask SendControlAsync(ReadOnlyMemory<byte> message, FrameKind kind, CancellationToken cancellationToken);

    /// <summary>Like <see cref="SendControlAsync"/> without waiting (from <see cref="IProtocolSession.OnTick"/> or the receive loop); the memory must stay valid.</summary>
    void PostControl(ReadOnlyMemory<byte> message, FrameKind kind);

    /// <summary>Handshaking &lt;-&gt; Ready; <paramref name="detail"/> shows in health (e.g. which subscription is missing).</summary>
    void SetReady(bool ready, string? detail = null);

    /// <summary>The server answered the send encoded with <paramref name="replyKey"/> (STOMP RECEIPT, Phoenix <c>phx_reply</c>).</summary>
    void CompleteReply(long replyKey, SendStatus status, ReadOnlySpan<byte> reply);

    /// <summary>A protocol error or a dead peer: close with <paramref name="status"/>, then reconnect.</summary>
    void Fail(WebSocketCloseStatus status, string reason, DisconnectKind kind = DisconnectKind.ProtocolFailed);
}
