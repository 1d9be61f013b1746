using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.Host.Configuration;

namespace Gateway.Host.Protocols.Raw;

/// <summary>
/// A raw connection: the <c>OnConnect</c> messages are its handshake, every message is a frame, a
/// send is confirmed by being written, and the optional application-level heart-beat is answered
/// here (Minch's <c>handle_info</c> loop, Vector's <c>ping_message</c>/<c>pong_message</c>).
/// </summary>
internal sealed class RawSession : IProtocolSession
{
    private readonly IProtocolConnection _connection;
    private readonly SocketOptions _options;
    private readonly TimeProvider _time;
    private readonly Heartbeat? _heartbeat;

    // Timestamps; 0 when unset. Written by the receive loop (answers) and the watchdog (pings, deadline).
    private long _lastPing;
    private long _awaitingSince;
    private volatile bool _ready;

    public RawSession(IProtocolConnection connection, SocketOptions options, TimeProvider time)
    {
        _connection = connection;
        _options = options;
        _time = time;
        if (options.Heartbeat is { Interval: { } interval } heartbeat)
        {
            _heartbeat = new Heartbeat(heartbeat, interval);
        }
    }

    public async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        foreach (var message in _options.OnConnect)
        {
            var (payload, kind) = message.Text is { } text
                ? (Encoding.UTF8.GetBytes(text), FrameKind.Text)
                : (Convert.FromBase64String(message.Binary ?? string.Empty), FrameKind.Binary);
            await _connection.SendControlAsync(payload, kind, cancellationToken).ConfigureAwait(false);
        }

        Volatile.Write(ref _lastPing, _time.GetTimestamp());
        _ready = true;
        _connection.SetReady(true);
    }

    public ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
    {
        frame = new InboundFrame(0, message.Length);
        if (_heartbeat is not { } heartbeat)
        {
            return ReceiveDecision.Deliver;
        }

        if (!heartbeat.HasExpectation)
        {
            // Any message shows the peer is alive, and is data.
            Volatile.Write(ref _awaitingSince, 0);
            return ReceiveDecision.Deliver;
        }

        if (!heartbeat.IsAnswer(message, kind))
        {
            return ReceiveDecision.Deliver;
        }

        Volatile.Write(ref _awaitingSince, 0);
        return heartbeat.Deliver ? ReceiveDecision.Deliver : ReceiveDecision.Consumed;
    }

    public ReadOnlyMemory<byte> Encode(in Sockets.OutboundPart part, ArrayBufferWriter<byte> scratch, out FrameKind wireKind, out long replyKey)
    {
        wireKind = part.Kind;
        replyKey = 0; // written is the strongest confirmation raw has
        return part.Payload;
    }

    public void OnTick(long timestamp)
    {
        if (_heartbeat is not { } heartbeat || !_ready)
        {
            return;
        }

        var awaiting = Volatile.Read(ref _awaitingSince);
        if (awaiting != 0 && _time.GetElapsedTime(awaiting, timestamp) >= heartbeat.Timeout)
        {
            _ready = false; // fail once
            _connection.Fail(WebSocketCloseStatus.PolicyViolation, $"no heart-beat answer within {heartbeat.Timeout.TotalSeconds:0.###} s (Heartbeat:Timeout)", DisconnectKind.HeartbeatTimeout);
            return;
        }

        if (_time.GetElapsedTime(Volatile.Read(ref _lastPing), timestamp) >= heartbeat.Interval)
        {
            Volatile.Write(ref _lastPing, timestamp);

            // The answer is due Timeout after the first unanswered ping, not after the latest one.
            Interlocked.CompareExchange(ref _awaitingSince, timestamp, 0);
            if (heartbeat.Message is { } message)
            {
                _connection.PostControl(message, heartbeat.Kind);
            }
        }
    }

    public void Complete(long token, FrameOutcome outcome)
    {
        // Raw frames carry no completion token: nothing to acknowledge.
    }

    public void StopDelivering()
    {
    }

    public ValueTask GoodbyeAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>The heart-beat's configuration, parsed once per connection.</summary>
    private sealed class Heartbeat
    {
        private readonly byte[]? _expect;
        private readonly Regex? _pattern;

        public Heartbeat(HeartbeatOptions options, TimeSpan interval)
        {
            Interval = interval;
            Timeout = options.Timeout;
            Deliver = options.Deliver;
            (Message, Kind) = options.Text is { } text ? (Encoding.UTF8.GetBytes(text), FrameKind.Text)
                : options.Binary is { } binary ? (Convert.FromBase64String(binary), FrameKind.Binary)
                : ((byte[]?)null, FrameKind.Text);
            _expect = options.Expect is { } expect ? Encoding.UTF8.GetBytes(expect) : null;
            _pattern = options.ExpectPattern is { } pattern ? new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)) : null;
        }

        public TimeSpan Interval { get; }

        public TimeSpan Timeout { get; }

        public bool Deliver { get; }

        public byte[]? Message { get; }

        public FrameKind Kind { get; }

        public bool HasExpectation => _expect is not null || _pattern is not null;

        /// <summary>Whether <paramref name="message"/> is the expected answer.</summary>
        public bool IsAnswer(ReadOnlySpan<byte> message, FrameKind kind)
            => _expect is not null ? message.IndexOf(_expect) >= 0 : _pattern is not null && kind == FrameKind.Text && IsMatch(_pattern, message);

        private static bool IsMatch(Regex pattern, ReadOnlySpan<byte> message)
        {
            try
            {
                return pattern.IsMatch(Encoding.UTF8.GetString(message));
            }
            catch (RegexMatchTimeoutException)
            {
                return false;
            }
        }
    }
}
