namespace Gateway.Host.Configuration;

/// <summary>One upstream socket: <c>Gateway:Sockets:&lt;name&gt;</c>, over <c>Gateway:Defaults</c>.</summary>
internal sealed class SocketOptions
{
    public Uri? Url { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>Counts for readiness.</summary>
    public bool Required { get; set; } = true;

    public SocketProtocol Protocol { get; set; } = SocketProtocol.Raw;

    /// <summary>The WebSocket implementation: the gateway's own frame layer, or the platform's <c>ClientWebSocket</c> as a fallback.</summary>
    public SocketTransport Transport { get; set; } = SocketTransport.Gateway;

    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public List<string> SubProtocols { get; set; } = [];

    /// <summary>
    /// Offers permessage-deflate (RFC 7692) with context takeover; messages are compressed only when the server accepts it.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Compression { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>WebSocket ping interval; zero disables pings.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A ping unanswered for this long marks the peer dead; zero disables the check.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Reconnect when no message arrives for this long; null (the default) disables it.</summary>
    public TimeSpan? NoMessageTimeout { get; set; }

    public int MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>Limit for the protocol's handshake after the socket opened (raw: the <c>OnConnect</c> messages).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for the server's confirmation of a send the protocol confirms by a reply (STOMP RECEIPT, Phoenix <c>phx_reply</c>).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>An application-level heart-beat for raw sockets.</summary>
    public HeartbeatOptions Heartbeat { get; set; } = new();

    /// <summary>The STOMP session, for <c>Protocol: Stomp</c>.</summary>
    public StompOptions Stomp { get; set; } = new();

    /// <summary>The Phoenix Channels session, for <c>Protocol: Phoenix</c>.</summary>
    public PhoenixOptions Phoenix { get; set; } = new();

    public ReconnectOptions Reconnect { get; set; } = new();

    public QueueOptions Queue { get; set; } = new();

    public OutboundOptions Outbound { get; set; } = new();

    public List<string> Handlers { get; set; } = [];

    public List<string> Groups { get; set; } = [];

    public List<OnConnectMessage> OnConnect { get; set; } = [];

    /// <summary>The registered <see cref="IConnectHook"/> run before every connect attempt; null or empty for none.</summary>
    public string? ConnectHook { get; set; }

    /// <summary>Skips TLS certificate validation for this socket (logged as a warning).</summary>
    public bool DangerousAcceptAnyServerCertificate { get; set; }
}

internal enum SocketProtocol
{
    /// <summary>Each WebSocket message is one frame.</summary>
    Raw,

    /// <summary>STOMP 1.2 (<c>Stomp</c> section): subscriptions, acknowledgements after the handlers, receipts.</summary>
    Stomp,

    /// <summary>Phoenix Channels (<c>Phoenix</c> section): joins, pushes with replies, heartbeats, rejoins.</summary>
    Phoenix,
}

internal enum SocketTransport
{
    /// <summary>The gateway's own frame layer (<c>Transport/GatewayWebSocket</c>), which names every protocol violation.</summary>
    Gateway,

    /// <summary>The platform's <see cref="System.Net.WebSockets.ClientWebSocket"/>.</summary>
    ClientWebSocket,
}

/// <summary>
/// An application-level heart-beat (raw sockets): every <see cref="Interval"/> send <see cref="Text"/>
/// or <see cref="Binary"/> (if set), then expect an answer within <see cref="Timeout"/>, or the
/// connection counts as dead and reconnects.
/// </summary>
internal sealed class HeartbeatOptions
{
    /// <summary>Unset: no heart-beat.</summary>
    public TimeSpan? Interval { get; set; }

    public string? Text { get; set; }

    /// <summary>Base64.</summary>
    public string? Binary { get; set; }

    /// <summary>A substring of the answer; with neither this nor <see cref="ExpectPattern"/>, any message answers.</summary>
    public string? Expect { get; set; }

    /// <summary>A regular expression the answer (as text) matches.</summary>
    public string? ExpectPattern { get; set; }

    /// <value>The default value is 10 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether the expected answers reach the handlers too.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Deliver { get; set; }
}

internal sealed class ReconnectOptions
{
    public TimeSpan MinDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    public double Factor { get; set; } = 2;

    /// <summary>Fraction of the delay added or removed at random, 0 to 1.</summary>
    public double Jitter { get; set; } = 0.2;

    /// <summary>Consecutive failed attempts before the socket stops; null retries forever.</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>A connection that stayed up this long resets the attempt count.</summary>
    public TimeSpan ResetAfter { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class QueueOptions
{
    public int Capacity { get; set; } = 1024;

    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>Frames handed to a sink (<see cref="Frame.Defer"/>) that may await settlement at once; then the queue waits.</summary>
    /// <value>The default value is 256.</value>
    public int MaxInFlight { get; set; } = 256;

    /// <summary>A deferred frame not settled within this fails (STOMP: NACK, redelivery).</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan SettleTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

internal enum QueueFullMode
{
    /// <summary>Stop reading from the socket until the handlers catch up (TCP backpressure).</summary>
    Wait,

    /// <summary>Drop the oldest queued frame to make room.</summary>
    DropOldest,

    /// <summary>Drop the arriving frame.</summary>
    DropNewest,
}

internal sealed class OutboundOptions
{
    /// <summary>Messages accepted but not yet written, per socket.</summary>
    public int Capacity { get; set; } = 1024;

    public OutboundPolicy WhileDisconnected { get; set; } = OutboundPolicy.Buffer;

    /// <summary>A queued message older than this when its turn comes is dropped and reported, not sent.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest a send waits for its write (or confirmation) before answering <c>Queued</c>: still queued, written in order later.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The registered <see cref="IOutboundEncoder"/> for values sent with <see cref="OutboundMessage.Encoded"/>.</summary>
    public string Encoder { get; set; } = Sockets.JsonOutboundEncoder.Name;
}

internal enum OutboundPolicy
{
    /// <summary>Queue while disconnected (up to Capacity); flush in order after the next connect.</summary>
    Buffer,

    /// <summary>Refuse sends at once while disconnected.</summary>
    Reject,
}

internal sealed class OnConnectMessage
{
    public string? Text { get; set; }

    /// <summary>Base64 of the bytes to send as a binary message.</summary>
    public string? Binary { get; set; }
}
