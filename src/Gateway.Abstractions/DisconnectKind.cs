namespace Gateway;

/// <summary>
/// Why a connection ended, as one of a small fixed set: <see cref="DisconnectReason.Kind"/>, and the
/// <c>gateway_reason</c> label of the <c>gateway_socket_disconnects_total</c> metric (in snake case).
/// </summary>
public enum DisconnectKind
{
    /// <summary>Not known (e.g. a connection replaced before its end was seen).</summary>
    Unknown,

    /// <summary>The server sent a close frame, and the gateway answered it.</summary>
    ServerClosed,

    /// <summary>The connection ended without a close frame: reset, end of stream, network error.</summary>
    ConnectionLost,

    /// <summary>The server broke RFC 6455 (invalid UTF-8, an invalid close code, a masked frame, ...): the gateway closed with 1002 or 1007.</summary>
    ProtocolError,

    /// <summary>A message larger than <c>MaxMessageSize</c>: the gateway closed with 1009.</summary>
    MessageTooBig,

    /// <summary>No pong within <c>KeepAliveTimeout</c> of a ping: the gateway dropped the connection.</summary>
    KeepAliveTimeout,

    /// <summary>No message within <c>NoMessageTimeout</c>: the gateway dropped the connection.</summary>
    NoMessageTimeout,

    /// <summary>The protocol's heart-beat went unanswered: the gateway closed with 1008.</summary>
    HeartbeatTimeout,

    /// <summary>The protocol session ended the connection: its handshake failed or timed out, or the server stopped reading.</summary>
    ProtocolFailed,

    /// <summary>A reconnect was requested (<c>POST /sockets/{name}/reconnect</c>): the gateway closed with 1000.</summary>
    ReconnectRequested,

    /// <summary>The gateway is stopping, or configuration removed or changed the socket: the gateway closed with 1001.</summary>
    Stopping,
}
