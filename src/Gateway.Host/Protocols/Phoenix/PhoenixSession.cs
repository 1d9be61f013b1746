using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>
/// One Phoenix Channels connection: <c>phx_join</c> per topic (Ready once every topic is joined),
/// rejoins on the <c>RejoinAfter</c> schedule after a refusal, <c>phx_error</c>, <c>phx_close</c> or a join
/// timeout; a heartbeat every interval (no reply by the next one: the connection is dead); broadcasts
/// and pushes to the handlers with <c>topic</c> and <c>event</c> headers, messages of an earlier join
/// dropped; user sends as pushes on a topic, completed by their <c>phx_reply</c>; topics joined and left
/// live; <c>phx_leave</c> as the goodbye.
/// </summary>
internal sealed partial class PhoenixSession : IProtocolSession, IPresenceSource
{
    private readonly IProtocolConnection _connection;
    private readonly PhoenixOptions _phoenix;
    private readonly PhoenixWireFormat _format;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PhoenixDecoder _decoder;
    private readonly Lock _lock = new();

    // The channels in force, in configuration order; replaced whole by a reload (under _lock).
    private Channel[] _channels;
    private long _nextRef;
    private bool _started;
    private volatile bool _failed;
    private bool _handshakeOver;

    // The heartbeat awaiting its reply (0: none), and when the last one went out.
    private long _heartbeatRef;
    private long _lastHeartbeat;

    public PhoenixSession(IProtocolConnection connection, SocketOptions options, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _phoenix = options.Phoenix;
        _format = options.Phoenix.Serializer == PhoenixSerializer.V1 ? PhoenixWireFormat.V1 : PhoenixWireFormat.V2;
        _time = time;
        _logger = logger;
        _decoder = new PhoenixDecoder(_format);
        _channels = Channels(options.Phoenix.Topics);
    }

    private Channel[] Channels(List<PhoenixTopicOptions> topics)
        => [.. topics.Select(t => new Channel(t.Topic!, Encoding.UTF8.GetBytes(t.Payload ?? "{}"), StatusOf(t.Topic!)))];

    private Health.SubscriptionStatus? StatusOf(string topic)
    {
        var statuses = _connection.Subscriptions;
        for (var i = 0; i < statuses.Count; i++)
        {
            if (statuses[i].Id == topic)
            {
                return statuses[i];
            }
        }

        return null;
    }

    private long NextRef() => Interlocked.Increment(ref _nextRef);

    public ValueTask StartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _started = true;
            _lastHeartbeat = _time.GetTimestamp();
            foreach (var channel in _channels)
            {
                Join(channel);
            }

            UpdateReadiness();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends <c>phx_join</c> with a fresh ref, which is also the channel's join_ref (under _lock).</summary>
    private void Join(Channel channel)
    {
        var joinRef = NextRef();
        channel.PendingJoinRef = joinRef;
        channel.JoinRef = -1;
        channel.JoinSentAt = _time.GetTimestamp();
        channel.RejoinAt = 0;
        channel.Status?.SetState("Joining");
        var writer = new ArrayBufferWriter<byte>(64 + channel.Payload.Length);
        PhoenixEncoder.WritePush(writer, _format, joinRef, joinRef, channel.Topic, PhoenixEvents.Join, channel.Payload);
        _connection.PostControl(writer.WrittenMemory.ToArray(), FrameKind.Text);
    }

    private void Leave(Channel channel)
    {
        if (channel.JoinRef < 0)
        {
            return;
        }

        var writer = new ArrayBufferWriter<byte>(64);
        PhoenixEncoder.WritePush(writer, _format, channel.JoinRef, NextRef(), channel.Topic, PhoenixEvents.Leave, "{}"u8);
        channel.JoinRef = -1;
        _connection.PostControl(writer.WrittenMemory.ToArray(), FrameKind.Text);
    }

    /// <summary>
    /// Ready once every topic is joined. The handshake ends when every topic had its first answer: a
    /// refused topic then keeps the socket out of Ready (with the reason) without failing the connection.
    /// </summary>
    private void UpdateReadiness()
    {
        if (_failed)
        {
            return;
        }

        var waiting = _channels.Where(c => c.JoinRef < 0).ToList();
        if (waiting.Count == 0)
        {
            _handshakeOver = true;
            _connection.SetReady(true);
            return;
        }

        if (!_handshakeOver && waiting.All(c => c.RejoinAt != 0))
        {
            _handshakeOver = true;
            _connection.SetReady(true); // ends the handshake; the line below takes readiness back
        }

        _connection.SetReady(false, $"{waiting.Count} of {_channels.Length} topic(s) not joined: {string.Join(", ", waiting.Select(c => c.LastError is null ? $"'{c.Topic}' joining" : $"'{c.Topic}' ({c.LastError})"))}");
    }

    /// <summary>A join refused, crashed, closed or timed out: retried on the schedule (under _lock).</summary>
    private void ScheduleRejoin(Channel channel, string error)
    {
        var schedule = _phoenix.RejoinSchedule;
        var delay = schedule[Math.Min(channel.RejoinAttempt, schedule.Count - 1)];
        channel.RejoinAttempt++;
        channel.JoinRef = -1;
        channel.PendingJoinRef = -1;
        channel.LastError = error;
        channel.RejoinAt = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
        channel.Status?.SetFailed(error, _time.GetUtcNow() + delay);
        Log.ChannelFailed(_logger, _connection.SocketName, channel.Topic, error, delay);
        UpdateReadiness();
    }

    public void OnTick(long timestamp)
    {
        if (!_started || _failed)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var channel in _channels)
            {
                if (channel.RejoinAt != 0 && timestamp >= channel.RejoinAt)
                {
                    Join(channel);
                }
                else if (channel.PendingJoinRef > 0 && _time.GetElapsedTime(channel.JoinSentAt, timestamp) >= _phoenix.Timeout)
                {
                    ScheduleRejoin(channel, $"no join reply within {_phoenix.Timeout.TotalSeconds:0.###} s");
                }
            }

            if (_time.GetElapsedTime(_lastHeartbeat, timestamp) < _phoenix.HeartbeatInterval)
            {
                return;
            }

            if (_heartbeatRef != 0)
            {
                // phoenix.js: a heartbeat still unanswered when the next one is due means the connection is dead.
                _failed = true;
                _connection.Fail(WebSocketCloseStatus.PolicyViolation, $"no heartbeat reply within {_phoenix.HeartbeatInterval.TotalSeconds:0.###} s (Phoenix:HeartbeatInterval)", DisconnectKind.HeartbeatTimeout);
                return;
            }

            _lastHeartbeat = timestamp;
            _heartbeatRef = NextRef();
            var writer = new ArrayBufferWriter<byte>(64);
            PhoenixEncoder.WritePush(writer, _format, -1, _heartbeatRef, PhoenixEvents.PhoenixTopic, PhoenixEvents.Heartbeat, "{}"u8);
            _connection.PostControl(writer.WrittenMemory.ToArray(), FrameKind.Text);
        }
    }

    /// <summary>A reload changed the topics: leave those gone (or with new join params), join those new; the others stay joined.</summary>
    public void OnSubscriptionsChanged(SocketOptions options)
    {
        lock (_lock)
        {
            var before = _channels;
            var after = Channels(options.Phoenix.Topics);
            for (var i = 0; i < after.Length; i++)
            {
                if (Array.Find(before, c => c.Topic == after[i].Topic && c.Payload.AsSpan().SequenceEqual(after[i].Payload)) is { } kept)
                {
                    kept.Status = after[i].Status;
                    after[i] = kept;
                }
            }

            _channels = after;
            if (!_started || _failed)
            {
                return;
            }

            foreach (var gone in before.Where(c => !after.Contains(c)))
            {
                Leave(gone);
            }

            foreach (var added in after.Where(c => !before.Contains(c)))
            {
                Join(added);
            }

            foreach (var channel in after)
            {
                if (channel.JoinRef >= 0)
                {
                    channel.Status?.SetState("Joined");
                }
            }

            UpdateReadiness();
        }
    }

    public void StopDelivering()
    {
    }

    /// <summary>phx_leave for every joined topic, written before the close frame.</summary>
    public async ValueTask GoodbyeAsync(CancellationToken cancellationToken)
    {
        if (!_started || _failed)
        {
            return;
        }

        var leaves = new List<byte[]>();
        lock (_lock)
        {
            foreach (var channel in _channels.Where(c => c.JoinRef >= 0))
            {
                var writer = new ArrayBufferWriter<byte>(64);
                PhoenixEncoder.WritePush(writer, _format, channel.JoinRef, NextRef(), channel.Topic, PhoenixEvents.Leave, "{}"u8);
                channel.JoinRef = -1;
                leaves.Add(writer.WrittenMemory.ToArray());
            }
        }

        foreach (var leave in leaves)
        {
            await _connection.SendControlAsync(leave, FrameKind.Text, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Complete(long token, FrameOutcome outcome)
    {
    }

    /// <summary>A user send: a push on its <c>topic</c> with its <c>event</c> and the channel's join_ref, confirmed by its <c>phx_reply</c>.</summary>
    public ReadOnlyMemory<byte> Encode(in Sockets.OutboundPart part, ArrayBufferWriter<byte> scratch, out FrameKind wireKind, out long replyKey)
    {
        string topic = string.Empty, @event = string.Empty;
        foreach (var (name, value) in part.Headers)
        {
            if (name == "topic" && topic.Length == 0)
            {
                topic = value;
            }
            else if (name == "event" && @event.Length == 0)
            {
                @event = value;
            }
        }

        long joinRef;
        lock (_lock)
        {
            joinRef = Array.Find(_channels, c => c.Topic == topic)?.JoinRef ?? -1;
        }

        replyKey = NextRef();
        if (part.Kind == FrameKind.Binary)
        {
            wireKind = FrameKind.Binary;
            PhoenixEncoder.WriteBinaryPush(scratch, joinRef, replyKey, topic, @event, part.Payload);
        }
        else
        {
            wireKind = FrameKind.Text;
            PhoenixEncoder.WritePush(scratch, _format, joinRef, replyKey, topic, @event, part.Payload);
        }

        return scratch.WrittenMemory;
    }

    /// <summary>One topic's channel on this connection.</summary>
    private sealed class Channel(string topic, byte[] payload, Health.SubscriptionStatus? status)
    {
        public string Topic { get; } = topic;

        public byte[] TopicUtf8 { get; } = Encoding.UTF8.GetBytes(topic);

        public byte[] Payload { get; } = payload;

        public Health.SubscriptionStatus? Status { get; set; } = status;

        /// <summary>The join in force (its ref); -1 while not joined.</summary>
        public long JoinRef { get; set; } = -1;

        /// <summary>The join awaiting its reply; -1: none.</summary>
        public long PendingJoinRef { get; set; } = -1;

        public long JoinSentAt { get; set; }

        /// <summary>When the next join goes out (a timestamp); 0: none scheduled.</summary>
        public long RejoinAt { get; set; }

        public int RejoinAttempt { get; set; }

        public string? LastError { get; set; }

        /// <summary>Who is present on the topic, from <c>presence_state</c> and <c>presence_diff</c> (per connection).</summary>
        public PhoenixPresence Presence { get; } = new();
    }

    public bool TryGetPresence(string topic, out System.Text.Json.Nodes.JsonObject? presence)
    {
        lock (_lock)
        {
            var channel = Array.Find(_channels, c => c.Topic == topic);
            presence = channel?.Presence.Snapshot(channel.JoinRef);
            return channel is not null;
        }
    }
}
