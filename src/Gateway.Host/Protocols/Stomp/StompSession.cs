using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Protocols.Stomp;

/// <summary>
/// One STOMP 1.2 connection: CONNECT, then SUBSCRIBE each subscription and Ready; MESSAGE frames to
/// the handlers with their headers, acknowledged only once their outcome is known (ACK when every
/// handler succeeded, NACK when one failed or a queue policy dropped it; nothing when lost, so the
/// broker redelivers); heart-beats both ways; ERROR closes the connection; sends become SEND with a
/// receipt; DISCONNECT with a receipt says goodbye.
/// </summary>
internal sealed partial class StompSession : IProtocolSession, IDisposable
{
    private const string DisconnectReceipt = "gateway-disconnect";

    private readonly IProtocolConnection _connection;
    private readonly SocketOptions _options;
    private readonly StompOptions _stomp;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly StompParser _parser;
    private readonly List<InboundFrame> _frames = [];
    private readonly TaskCompletionSource _goodbye = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The subscriptions in force; replaced whole when a reload changes them (OnSubscriptionsChanged).
    private volatile Subscriptions _subscriptions;

    // Serialises changes of the subscriptions (CONNECTED, a reload, a stale renewal) and the frames they post.
    private readonly Lock _subscribing = new();
    private int _nextFrame;
    private long _nextReceipt;

    // The batch being written (BEGIN sent, no COMMIT or ABORT yet); only the send loop opens and closes it.
    private string? _transaction;
    private volatile bool _ready;
    private volatile bool _failed;

    // Negotiated heart-beat periods (ticks of TimeSpan; 0: off) and timestamps of the last traffic.
    private long _sendEvery;
    private long _expectEvery;
    private long _lastSent;
    private long _lastReceived;

    public StompSession(IProtocolConnection connection, SocketOptions options, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _options = options;
        _stomp = options.Stomp;
        _time = time;
        _logger = logger;
        _parser = new StompParser(options.MaxMessageSize);
        _subscriptions = new Subscriptions(_stomp.Subscriptions);
    }

    /// <summary>The subscription's entry in health (looked up by id: a reload may reorder them).</summary>
    private Health.SubscriptionStatus? StatusOf(string id)
    {
        var statuses = _connection.Subscriptions;
        for (var i = 0; i < statuses.Count; i++)
        {
            if (statuses[i].Id == id)
            {
                return statuses[i];
            }
        }

        return null;
    }

    public async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        _connection.SetReady(false, "waiting for CONNECTED");
        var writer = new ArrayBufferWriter<byte>(256);
        var connect = new StompFrameWriter(writer, StompCommand.Connect);
        connect.Header("accept-version", "1.2");
        connect.Header("host", _stomp.Host);
        if (_stomp.Login is { } login)
        {
            connect.Header("login", login);
        }

        if (_stomp.Passcode is { } passcode)
        {
            connect.Header("passcode", passcode);
        }

        connect.Header("heart-beat", string.Create(CultureInfo.InvariantCulture, $"{Milliseconds(_stomp.HeartBeat.Outgoing)},{Milliseconds(_stomp.HeartBeat.Incoming)}"));
        connect.End();
        Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        await _connection.SendControlAsync(writer.WrittenMemory.ToArray(), FrameKind.Text, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _lastSent, _time.GetTimestamp());
    }

    public ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
    {
        Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        _frames.Clear();
        _nextFrame = 0;
        if (_failed)
        {
            frame = default;
            return ReceiveDecision.Consumed;
        }

        var reader = _parser.Read(message);
        while (true)
        {
            var status = reader.Next(out var view);
            if (status == StompReadStatus.NeedMoreData)
            {
                break;
            }

            if (status == StompReadStatus.Error)
            {
                return FailWith(WebSocketCloseStatus.ProtocolError, reader.Error ?? _parser.Error ?? "malformed STOMP frame", DisconnectKind.ProtocolError, out frame);
            }

            switch (view.Command)
            {
                case StompCommand.Message:
                    _frames.Add(Message(message, view));

                    break;
                case StompCommand.Connected:
                    OnConnected(view);
                    break;
                case StompCommand.Receipt:
                    OnReceipt(view);
                    break;
                case StompCommand.Error:
                    var what = view.TryGetHeader("message", out var text) ? text : "(no message header)";
                    var body = Encoding.UTF8.GetString(view.Body);
                    Log.ServerError(_logger, _connection.SocketName, what, body);
                    if (view.TryGetHeader("receipt-id", out var receipt) && long.TryParse(receipt, NumberStyles.None, CultureInfo.InvariantCulture, out var refusedKey))
                    {
                        // The send that asked for this receipt caused the error: it is refused, with the error as its reply.
                        _connection.CompleteReply(refusedKey, SendStatus.Refused, Encoding.UTF8.GetBytes(body.Length > 0 ? $"{what}\n{body}" : what));
                    }

                    return FailWith(WebSocketCloseStatus.PolicyViolation, $"STOMP ERROR from the server: {what}", DisconnectKind.ProtocolFailed, out frame);
            }
        }

        return TryNextFrame(message, out frame) ? ReceiveDecision.Deliver : ReceiveDecision.Consumed;
    }

    public bool TryNextFrame(ReadOnlySpan<byte> message, out InboundFrame frame)
    {
        if (_nextFrame < _frames.Count)
        {
            frame = _frames[_nextFrame++];
            return true;
        }

        frame = default;
        return false;
    }

    /// <summary>A MESSAGE as a frame: the body and the header block, in the message or (split over several) in a pool buffer.</summary>
    private InboundFrame Message(ReadOnlySpan<byte> message, StompFrameView view)
    {
        var subscriptions = _subscriptions;
        var index = view.TryGetHeader("subscription", out var subscription) && subscriptions.Index.TryGetValue(subscription, out var i) ? i : -1;
        if (index < 0)
        {
            // Not (or no longer) ours: a message in flight when a reload unsubscribed it. The broker
            // takes it back with the subscription; deliver it without acknowledging anything.
            return ToFrame(message, view, 0);
        }

        Volatile.Write(ref subscriptions.LastActivity[index], _time.GetTimestamp());
        StatusOf(subscriptions.Ids[index])?.AddMessage(_time.GetUtcNow());
        var entry = subscriptions.Entries[index];
        var token = _acks.Track(view, entry.Ack, subscriptions.Ids[index]);
        return ToFrame(message, view, token);
    }

    /// <summary>A MESSAGE's body and header block: slices of the message, or copied to a pool buffer when the parser assembled the frame from several.</summary>
    private InboundFrame ToFrame(ReadOnlySpan<byte> message, StompFrameView view, long token)
    {
        if (!view.IsBuffered)
        {
            var headersOffset = (int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(message), ref MemoryMarshal.GetReference(view.HeaderBlock));
            return new InboundFrame(view.BodyOffset, view.Body.Length, token, headersOffset, view.HeaderBlock.Length);
        }

        var copy = _connection.Pool.Rent(Math.Max(view.HeaderBlock.Length + view.Body.Length, 1));
        view.HeaderBlock.CopyTo(copy);
        view.Body.CopyTo(copy.AsSpan(view.HeaderBlock.Length));
        return new InboundFrame(view.HeaderBlock.Length, view.Body.Length, token, 0, view.HeaderBlock.Length, copy);
    }

    private void OnConnected(StompFrameView view)
    {
        // heart-beat: the server's "sx,sy" against ours "cx,cy": we send every max(cx, sy), expect every max(sx, cy); 0 is off.
        var (sx, sy) = view.TryGetHeader("heart-beat", out var beats) && ParseHeartBeat(beats) is { } parsed ? parsed : (0L, 0L);
        var cx = Milliseconds(_stomp.HeartBeat.Outgoing);
        var cy = Milliseconds(_stomp.HeartBeat.Incoming);
        Volatile.Write(ref _sendEvery, cx == 0 || sy == 0 ? 0 : TimeSpan.FromMilliseconds(Math.Max(cx, sy)).Ticks);
        Volatile.Write(ref _expectEvery, sx == 0 || cy == 0 ? 0 : TimeSpan.FromMilliseconds(Math.Max(sx, cy)).Ticks);

        lock (_subscribing)
        {
            var subscriptions = _subscriptions;
            for (var i = 0; i < subscriptions.Entries.Length; i++)
            {
                Subscribe(subscriptions, i);
            }

            _ready = true;
        }

        _connection.SetReady(true);
    }

    /// <summary>A reload changed the subscriptions: UNSUBSCRIBE those gone or changed, SUBSCRIBE those new or changed; the others stay as they are.</summary>
    public void OnSubscriptionsChanged(SocketOptions options)
    {
        lock (_subscribing)
        {
            var before = _subscriptions;
            var after = new Subscriptions(options.Stomp.Subscriptions);
            for (var i = 0; i < after.Entries.Length; i++)
            {
                if (before.Index.TryGetValue(after.Ids[i], out var j) && Same(before.Entries[j], after.Entries[i]))
                {
                    after.LastActivity[i] = Volatile.Read(ref before.LastActivity[j]);
                }
            }

            _subscriptions = after;
            if (!_ready || _failed)
            {
                return; // CONNECTED will subscribe the new set
            }

            for (var j = 0; j < before.Entries.Length; j++)
            {
                if (!after.Index.TryGetValue(before.Ids[j], out var i) || !Same(before.Entries[j], after.Entries[i]))
                {
                    Unsubscribe(before.Ids[j]);
                }
            }

            for (var i = 0; i < after.Entries.Length; i++)
            {
                if (!before.Index.TryGetValue(after.Ids[i], out var j) || !Same(before.Entries[j], after.Entries[i]))
                {
                    Subscribe(after, i);
                }
            }
        }

        static bool Same(StompSubscriptionOptions a, StompSubscriptionOptions b)
            => System.Text.Json.JsonSerializer.Serialize(a) == System.Text.Json.JsonSerializer.Serialize(b);
    }

    private void Subscribe(Subscriptions subscriptions, int index)
    {
        _connection.PostControl(SubscribeFrame(subscriptions.Entries[index], subscriptions.Ids[index]), FrameKind.Text);
        Volatile.Write(ref subscriptions.LastActivity[index], _time.GetTimestamp());
        StatusOf(subscriptions.Ids[index])?.SetSubscribed();
    }

    private void Unsubscribe(string id)
    {
        var writer = new ArrayBufferWriter<byte>(64);
        var frame = new StompFrameWriter(writer, StompCommand.Unsubscribe);
        frame.Header("id", id);
        frame.End();
        _connection.PostControl(writer.WrittenMemory.ToArray(), FrameKind.Text);
    }

    private byte[] SubscribeFrame(StompSubscriptionOptions subscription, string id)
    {
        var writer = new ArrayBufferWriter<byte>(256);
        var frame = new StompFrameWriter(writer, StompCommand.Subscribe);
        frame.Header("id", id);
        frame.Header("destination", subscription.Destination!);
        frame.Header("ack", subscription.Ack switch { StompAck.Auto => "auto", StompAck.Client => "client", _ => "client-individual" });
        if (subscription.Ack != StompAck.Auto && !subscription.Headers.ContainsKey("prefetch-count"))
        {
            // RabbitMQ's default is unlimited: at most a queue's worth unacknowledged.
            frame.Header("prefetch-count", _options.Queue.Capacity);
        }

        foreach (var (name, value) in subscription.Headers)
        {
            frame.Header(name, value);
        }

        frame.End();
        return writer.WrittenMemory.ToArray();
    }

    private void OnReceipt(StompFrameView view)
    {
        if (!view.TryGetHeader("receipt-id", out var id))
        {
            return;
        }

        if (id == DisconnectReceipt)
        {
            _goodbye.TrySetResult();
        }
        else if (long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var key))
        {
            _connection.CompleteReply(key, SendStatus.Confirmed, default);
        }
    }

    private ReceiveDecision FailWith(WebSocketCloseStatus status, string reason, DisconnectKind kind, out InboundFrame frame)
    {
        _failed = true;
        _frames.Clear();
        frame = default;
        _connection.Fail(status, reason, kind);
        return ReceiveDecision.Close;
    }

    /// <summary>
    /// A user send: SEND with its headers, to its <c>destination</c> (else the socket's
    /// <c>DefaultDestination</c>), confirmed by a RECEIPT; inside a batch, part of its transaction instead.
    /// </summary>
    public ReadOnlyMemory<byte> Encode(in Sockets.OutboundPart part, ArrayBufferWriter<byte> scratch, out FrameKind wireKind, out long replyKey)
    {
        wireKind = FrameKind.Text;
        var frame = new StompFrameWriter(scratch, StompCommand.Send);
        bool hasDestination = false, hasContentType = false;
        foreach (var (name, value) in part.Headers)
        {
            hasDestination |= name == "destination";
            hasContentType |= name == "content-type";
            frame.Header(name, value);
        }

        if (!hasDestination)
        {
            frame.Header("destination", _stomp.DefaultDestination ?? string.Empty);
        }

        if (!hasContentType)
        {
            frame.Header("content-type", part.Kind == FrameKind.Text ? "text/plain" : "application/octet-stream");
        }

        if (_transaction is { } transaction)
        {
            replyKey = 0; // the COMMIT's receipt confirms the batch
            frame.Header("transaction", transaction);
        }
        else
        {
            replyKey = Interlocked.Increment(ref _nextReceipt);
            frame.Header("receipt", replyKey);
        }

        frame.End(part.Payload);
        Volatile.Write(ref _lastSent, _time.GetTimestamp());
        return scratch.WrittenMemory;
    }

    /// <summary>BEGIN a transaction; the SENDs that follow carry it until COMMIT or ABORT.</summary>
    public ReadOnlyMemory<byte> BeginBatch(ArrayBufferWriter<byte> scratch)
    {
        var transaction = $"gateway-tx-{Interlocked.Increment(ref _nextReceipt)}";
        Volatile.Write(ref _transaction, transaction);
        return TransactionFrame(StompCommand.Begin, transaction, scratch);
    }

    /// <summary>COMMIT with a receipt: the broker's RECEIPT confirms the whole batch.</summary>
    public ReadOnlyMemory<byte> CommitBatch(ArrayBufferWriter<byte> scratch, out long replyKey)
    {
        replyKey = Interlocked.Increment(ref _nextReceipt);
        var frame = new StompFrameWriter(scratch, StompCommand.Commit);
        frame.Header("transaction", Interlocked.Exchange(ref _transaction, null) ?? string.Empty);
        frame.Header("receipt", replyKey);
        frame.End();
        return scratch.WrittenMemory;
    }

    public ReadOnlyMemory<byte> AbortBatch(ArrayBufferWriter<byte> scratch)
        => Interlocked.Exchange(ref _transaction, null) is { } transaction ? TransactionFrame(StompCommand.Abort, transaction, scratch) : default;

    private ReadOnlyMemory<byte> TransactionFrame(StompCommand command, string transaction, ArrayBufferWriter<byte> scratch)
    {
        var frame = new StompFrameWriter(scratch, command);
        frame.Header("transaction", transaction);
        frame.End();
        Volatile.Write(ref _lastSent, _time.GetTimestamp());
        return scratch.WrittenMemory;
    }

    public void OnTick(long timestamp)
    {
        if (!_ready || _failed)
        {
            return;
        }

        var expect = Volatile.Read(ref _expectEvery);
        if (expect > 0 && _time.GetElapsedTime(Volatile.Read(ref _lastReceived), timestamp) > TimeSpan.FromTicks(expect * 2))
        {
            // Twice the negotiated period: a margin for a busy server and the watchdog's tick.
            _failed = true;
            _connection.Fail(WebSocketCloseStatus.PolicyViolation, $"no STOMP heart-beat from the server within {TimeSpan.FromTicks(expect * 2).TotalSeconds:0.###} s", DisconnectKind.HeartbeatTimeout);
            return;
        }

        ResubscribeStale(timestamp);
        var send = Volatile.Read(ref _sendEvery);
        if (send > 0 && _time.GetElapsedTime(Volatile.Read(ref _lastSent), timestamp) >= TimeSpan.FromTicks(send) / 2)
        {
            // Half the period, so that the beat arrives in time whatever the tick's phase.
            Volatile.Write(ref _lastSent, timestamp);
            _connection.PostControl(s_heartBeat, FrameKind.Text);
        }
    }

    private static readonly byte[] s_heartBeat = "\n"u8.ToArray();

    /// <summary>A subscription with <c>StaleAfter</c> that got nothing for that long: UNSUBSCRIBE and SUBSCRIBE again, on the same connection.</summary>
    private void ResubscribeStale(long timestamp)
    {
        var subscriptions = _subscriptions;
        for (var i = 0; i < subscriptions.Entries.Length; i++)
        {
            if (subscriptions.Entries[i].StaleAfter is not { } staleAfter || _time.GetElapsedTime(Volatile.Read(ref subscriptions.LastActivity[i]), timestamp) < staleAfter)
            {
                continue;
            }

            lock (_subscribing)
            {
                if (_subscriptions != subscriptions)
                {
                    return; // a reload replaced them meanwhile; the next tick looks again
                }

                Unsubscribe(subscriptions.Ids[i]);
                Subscribe(subscriptions, i);
            }

            Volatile.Write(ref subscriptions.LastActivity[i], timestamp);
            StatusOf(subscriptions.Ids[i])?.AddResubscribe();
            Log.Resubscribed(_logger, _connection.SocketName, subscriptions.Ids[i], subscriptions.Entries[i].Destination!, staleAfter);
        }
    }

    public void StopDelivering()
    {
    }

    /// <summary>DISCONNECT with a receipt; RabbitMQ answers with close 1000 instead, which ends the wait too.</summary>
    public async ValueTask GoodbyeAsync(CancellationToken cancellationToken)
    {
        if (!_ready || _failed)
        {
            return;
        }

        // A batch still open (its connection ends mid-way) is aborted by the broker: STOMP aborts what a
        // DISCONNECT or a lost connection leaves uncommitted. Only the send loop writes ABORT.
        var writer = new ArrayBufferWriter<byte>(64);
        var frame = new StompFrameWriter(writer, StompCommand.Disconnect);
        frame.Header("receipt", DisconnectReceipt);
        frame.End();
        await _connection.SendControlAsync(writer.WrittenMemory.ToArray(), FrameKind.Text, cancellationToken).ConfigureAwait(false);
        await _goodbye.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A frame's outcome: ACK or NACK (cumulative in <c>client</c> mode). Called from the dispatcher, or
    /// from any thread once a sink settled a deferred frame: posted in the order computed, so a
    /// cumulative ACK never goes out before an older one.
    /// </summary>
    public void Complete(long token, FrameOutcome outcome)
    {
        lock (_acking)
        {
            foreach (var (command, id) in _acks.Complete(token, outcome))
            {
                var writer = new ArrayBufferWriter<byte>(64);
                var frame = new StompFrameWriter(writer, command);
                frame.Header("id", id);
                frame.End();
                _connection.PostControl(writer.WrittenMemory.ToArray(), FrameKind.Text);
            }
        }
    }

    private readonly Lock _acking = new();

    /// <summary>One immutable set of subscriptions with their ids, an index by id, and when each last showed life (subscribed, or a message: for StaleAfter).</summary>
    private sealed class Subscriptions
    {
        public Subscriptions(List<StompSubscriptionOptions> entries)
        {
            Entries = [.. entries];
            Ids = [.. entries.Select((s, i) => s.IdAt(i))];
            Index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < Ids.Length; i++)
            {
                Index[Ids[i]] = i;
            }

            LastActivity = new long[Entries.Length];
        }

        public StompSubscriptionOptions[] Entries { get; }

        public string[] Ids { get; }

        public Dictionary<string, int> Index { get; }

        public long[] LastActivity { get; }
    }

    public void Dispose()
    {
        _parser.Dispose();
        foreach (var id in _subscriptions.Ids)
        {
            StatusOf(id)?.SetPending();
        }
    }

    private static long Milliseconds(TimeSpan value) => (long)value.TotalMilliseconds;

    private static (long, long)? ParseHeartBeat(string value)
    {
        var comma = value.IndexOf(',', StringComparison.Ordinal);
        return comma > 0
            && long.TryParse(value.AsSpan(0, comma), NumberStyles.None, CultureInfo.InvariantCulture, out var x)
            && long.TryParse(value.AsSpan(comma + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var y)
            ? (x, y)
            : null;
    }

    private static partial class Log
    {
        [LoggerMessage(600, LogLevel.Error, "Socket {SocketName}: STOMP ERROR from the server: {ErrorMessage} {ErrorBody}")]
        public static partial void ServerError(ILogger logger, string socketName, string errorMessage, string errorBody);

        [LoggerMessage(601, LogLevel.Warning, "Socket {SocketName}: subscription {SubscriptionId} ({Destination}) got nothing for {StaleAfter} (StaleAfter); resubscribed on the same connection.")]
        public static partial void Resubscribed(ILogger logger, string socketName, string subscriptionId, string destination, TimeSpan staleAfter);
    }
}
