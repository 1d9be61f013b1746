using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>
/// One socket's send side: the bounded outbound queue (it outlives connections), one send loop at
/// a time per connected socket, a control lane that writes ahead of queued sends, the sends that
/// await the server's reply, and the lock that keeps every write (and the close frame) whole.
/// Neither queue nor loop exists until needed: an idle socket that never sends carries neither.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The write lock lives as long as the socket; nothing waits on it once the socket stopped.")]
internal sealed partial class OutboundPipeline : IDepth
{
    // Control messages (ACKs, heart-beats) waiting for the lock: beyond this the peer is not reading.
    private const int MaxPendingControl = 1024;

    private readonly string _name;
    private readonly SocketOptions _options;
    private readonly IOutboundEncoder _encoder;
    private readonly IProtocol _protocol;
    private readonly GatewayMetrics _metrics;
    private readonly SocketStatus _status;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // Made by the first write (an idle socket that never sends holds none).
    private SemaphoreSlim? _writeLockCreated;
    private OutboundQueue? _queue;
    private ConcurrentDictionary<long, AwaitedReply>? _awaitingReply;
    private int _pendingControl;

    // The connection's send side once it is Ready; null otherwise.
    private volatile SendContext? _sending;

    // 1 while a send loop runs: at most one at a time keeps messages in order.
    private int _sendLoopRunning;
    private Task _sendLoop = Task.CompletedTask;

    public OutboundPipeline(string name, SocketOptions options, IProtocol protocol, IOutboundEncoder encoder, GatewayMetrics metrics, SocketStatus status, TimeProvider time, ILogger logger)
    {
        _name = name;
        _options = options;
        _protocol = protocol;
        _encoder = encoder;
        _metrics = metrics;
        _status = status;
        _time = time;
        _logger = logger;
        status.Outbound = this;
    }

    int IDepth.Depth => Volatile.Read(ref _queue)?.Count ?? 0;

    private SemaphoreSlim WriteLock
    {
        get
        {
            var writeLock = Volatile.Read(ref _writeLockCreated);
            if (writeLock is null)
            {
                var created = new SemaphoreSlim(1, 1);
                writeLock = Interlocked.CompareExchange(ref _writeLockCreated, created, null) ?? created;
            }

            return writeLock;
        }
    }

    private OutboundQueue Queue
    {
        get
        {
            var queue = Volatile.Read(ref _queue);
            if (queue is null)
            {
                var created = new OutboundQueue(_options.Outbound.Capacity);
                queue = Interlocked.CompareExchange(ref _queue, created, null) ?? created;
            }

            return queue;
        }
    }

    /// <summary>
    /// Accepts a message. While Ready, reports its write (<paramref name="waitForConfirmation"/>: the
    /// protocol's strongest confirmation); while not, queues it (<see cref="OutboundPolicy.Buffer"/>)
    /// or rejects it (<see cref="OutboundPolicy.Reject"/>). With <paramref name="waitForConfirmation"/>,
    /// waits through reconnects until it is confirmed, written, or dropped.
    /// </summary>
    public ValueTask<SendOutcome> SendAsync(OutboundMessage message, bool stopping, bool waitForConfirmation, CancellationToken cancellationToken)
        => SendAsync([message], isBatch: false, stopping, waitForConfirmation, cancellationToken);

    /// <summary>
    /// Accepts several messages as one batch, written as one unit inside the protocol's transaction
    /// (<see cref="IProtocolSession.BeginBatch"/>), and waits for its confirmation like
    /// <see cref="SendAsync(OutboundMessage, bool, bool, CancellationToken)"/> with confirmation.
    /// </summary>
    public ValueTask<SendOutcome> SendBatchAsync(IReadOnlyList<OutboundMessage> messages, bool stopping, CancellationToken cancellationToken)
    {
        if (messages.Count == 0 || messages.Count > _options.Outbound.Capacity)
        {
            return ValueTask.FromResult(new SendOutcome(SendStatus.Invalid, Error: $"a batch holds 1 to Outbound:Capacity ({_options.Outbound.Capacity}) messages, not {messages.Count}"));
        }

        return SendAsync(messages, isBatch: true, stopping, waitForConfirmation: true, cancellationToken);
    }

    private async ValueTask<SendOutcome> SendAsync(IReadOnlyList<OutboundMessage> messages, bool isBatch, bool stopping, bool waitForConfirmation, CancellationToken cancellationToken)
    {
        if (stopping)
        {
            return new SendOutcome(SendStatus.Stopped);
        }

        var parts = new OutboundPart[messages.Count];
        for (var i = 0; i < parts.Length; i++)
        {
            if (_protocol.Validate(messages[i], _options) is { } error)
            {
                return new SendOutcome(SendStatus.Invalid, Error: isBatch ? $"message {i}: {error}" : error);
            }

            parts[i] = Encode(messages[i]);
            if (parts[i].Payload.Length > _options.MaxMessageSize)
            {
                return new SendOutcome(SendStatus.TooLarge);
            }
        }

        var connected = _sending;
        var buffer = _options.Outbound.WhileDisconnected == OutboundPolicy.Buffer;
        if (connected is null && !buffer)
        {
            return new SendOutcome(SendStatus.NotConnected);
        }

        var item = new OutboundItem(parts, isBatch, _time.GetTimestamp());
        if (!Queue.TryEnqueue(item))
        {
            _metrics.OutboundRejected(_name, "queue_full");
            return new SendOutcome(SendStatus.QueueFull);
        }

        // Read again: a connection that became Ready since the check above must not leave the message waiting.
        if (_sending is { Paused: false } now)
        {
            KickSendLoop(now);
        }

        // A caller never waits longer than SendTimeout for the write: a peer that stopped reading gets
        // an honest Queued (accepted, written in order later) rather than a caller hanging until the
        // connection dies. Once written, a reply is bounded by ReplyTimeout (OnTick).
        var sendTimeout = _options.Outbound.SendTimeout;
        if (waitForConfirmation)
        {
            try
            {
                return await item.Completion.WaitAsync(sendTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) when (item.Written is { IsCompletedSuccessfully: true, Result: SendStatus.Sent })
            {
                return await item.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                item.ReportedQueued = true;
                return item.Completion.IsCompleted ? item.Completion.Result : new SendOutcome(SendStatus.Queued);
            }
            catch (OperationCanceledException)
            {
                // Still queued: withdrawn. A batch being written: aborted at its next message.
                if (!item.TryWithdraw(SendStatus.Stopped))
                {
                    item.RequestCancel();
                }

                throw;
            }
        }

        if (connected is not null)
        {
            // Ready: report the write, or, if the connection drops first, what became of the message.
            try
            {
                await Task.WhenAny(item.Written, connected.Lost.Task).WaitAsync(sendTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            if (item.Written.IsCompleted)
            {
                return new SendOutcome(item.Written.Result);
            }

            if (!buffer && connected.Lost.Task.IsCompleted)
            {
                return item.TryWithdraw(SendStatus.NotConnected) ? new SendOutcome(SendStatus.NotConnected) : new SendOutcome(await item.Written.ConfigureAwait(false));
            }
        }

        item.ReportedQueued = true;
        return item.Written.IsCompleted ? new SendOutcome(item.Written.Result) : new SendOutcome(SendStatus.Queued);
    }

    private OutboundPart Encode(in OutboundMessage message)
    {
        if (message.Value is not { } value)
        {
            return new(message.Payload.ToArray(), message.Kind, message.Headers);
        }

        var output = new ArrayBufferWriter<byte>();
        var kind = _encoder.Encode(value, output);
        return new(output.WrittenSpan.ToArray(), kind, message.Headers);
    }

    /// <summary>The connection is Ready: user sends flow (unless <paramref name="paused"/>); what was queued while not Ready goes first.</summary>
    public void Attach(WebSocket socket, IProtocolSession session, CancellationToken connectionToken, bool paused = false)
    {
        var context = new SendContext(socket, session, connectionToken) { Paused = paused };
        _sending = context;
        if (!paused && Volatile.Read(ref _queue) is { Count: > 0 })
        {
            KickSendLoop(context);
        }
    }

    /// <summary>
    /// The session took readiness back (<paramref name="paused"/>) or gave it again: user sends wait in
    /// the queue (bounded by <c>Outbound:Capacity</c>, aged by <c>MaxAge</c>) and are encoded, with the
    /// session's new state, once it is Ready. Control messages are not affected.
    /// </summary>
    public void SetPaused(bool paused)
    {
        if (_sending is not { } context)
        {
            return;
        }

        context.Paused = paused;
        if (!paused && Volatile.Read(ref _queue) is { Count: > 0 })
        {
            KickSendLoop(context);
        }
    }

    /// <summary>The connection ended (its token is cancelled): sends stop, and sends awaiting a reply are <see cref="SendStatus.Lost"/>.</summary>
    public async Task DetachAsync()
    {
        var context = _sending;
        _sending = null;
        await Volatile.Read(ref _sendLoop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        context?.Lost.TrySetResult();
        if (Volatile.Read(ref _awaitingReply) is { } awaiting)
        {
            foreach (var key in awaiting.Keys)
            {
                if (awaiting.TryRemove(key, out var reply))
                {
                    reply.Item.TryCompleteReply(SendStatus.Lost, null);
                }
            }
        }

        if (_options.Outbound.WhileDisconnected == OutboundPolicy.Reject && Volatile.Read(ref _queue) is { } queue)
        {
            // Under Reject nothing waits for a reconnect; the waiting callers learn NotConnected, and
            // messages a caller was told were Queued (a stalled peer) are counted and logged, not lost silently.
            var (withdrawn, reportedQueued) = queue.WithdrawAll(SendStatus.NotConnected);
            if (withdrawn > 0)
            {
                _metrics.OutboundDropped(_name, "disconnected", withdrawn);
                Log.OutboundDroppedAtDisconnect(_logger, _name, withdrawn, reportedQueued);
            }
        }
    }

    private void KickSendLoop(SendContext context)
    {
        if (Interlocked.CompareExchange(ref _sendLoopRunning, 1, 0) == 0)
        {
            Volatile.Write(ref _sendLoop, Task.Run(() => RunSendLoopAsync(context), CancellationToken.None));
        }
    }

    /// <summary>Writes queued messages in order until the queue is empty or the connection fails.</summary>
    private async Task RunSendLoopAsync(SendContext context)
    {
        await DrainAsync(context).ConfigureAwait(false);
        Volatile.Write(ref _sendLoopRunning, 0);

        // A message queued after the queue looked empty, but before the flag was cleared, found the loop
        // still running and did not start one: look once more. After a reconnect, this also hands over
        // to the new connection what a stale loop found.
        if (Volatile.Read(ref _queue) is { Count: > 0 } && _sending is { Paused: false } current && !current.Token.IsCancellationRequested)
        {
            KickSendLoop(current);
        }
    }

    private async Task DrainAsync(SendContext context)
    {
        var reader = Queue.Reader;
        var maxAge = _options.Outbound.MaxAge;
        while (!context.Paused && reader.TryPeek(out var item))
        {
            if (item.IsDone)
            {
                reader.TryRead(out _); // withdrawn by its sender
                continue;
            }

            if (_time.GetElapsedTime(item.EnqueuedAt) > maxAge)
            {
                reader.TryRead(out _);
                if (item.TryWithdraw(SendStatus.Expired))
                {
                    _metrics.OutboundDropped(_name, "expired", 1);
                    Log.OutboundExpired(_logger, _name, maxAge);
                }

                continue;
            }

            if (!item.TryClaim())
            {
                continue; // withdrawn just now; removed on the next pass
            }

            long replyKey = 0;
            var aborted = false;
            try
            {
                // Encoded at write time, so the session's current state (refs, receipt ids) goes with it.
                if (!item.IsBatch)
                {
                    var wire = context.Session.Encode(item.Parts[0], context.Scratch, out var wireKind, out replyKey);
                    await WriteEncodedAsync(context, item, wire, wireKind, replyKey).ConfigureAwait(false);
                }
                else if (!(aborted = !await WriteBatchAsync(context, item).ConfigureAwait(false)))
                {
                    var commit = context.Session.CommitBatch(context.Scratch, out replyKey);
                    await WriteEncodedAsync(context, item, commit, FrameKind.Text, replyKey).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // Still first in line: written after the next connect (Buffer) or withdrawn (Reject).
                if (replyKey != 0)
                {
                    _awaitingReply?.TryRemove(replyKey, out _);
                }

                item.Release();
                if (!context.Token.IsCancellationRequested)
                {
                    Log.SendFailed(_logger, _name, ex.Message); // an expected network failure: no stack trace
                    context.Socket.Abort(); // the receive loop notices and reconnects
                }

                return;
            }

            reader.TryRead(out _);
            if (aborted)
            {
                item.CompleteAborted(SendStatus.Stopped);
                Log.BatchAborted(_logger, _name);
            }
            else
            {
                item.CompleteWritten(awaitReply: replyKey != 0);
            }
        }
    }

    /// <summary>
    /// A batch's opening (STOMP BEGIN) and its messages, unless its sender gives up first: then the
    /// protocol's abort (STOMP ABORT) instead of the rest, and false. A write failure throws; the broker
    /// discards the uncommitted transaction with the connection, and the batch is written again, whole.
    /// </summary>
    private async Task<bool> WriteBatchAsync(SendContext context, OutboundItem item)
    {
        if (item.CancelRequested)
        {
            return false;
        }

        await WriteEncodedAsync(context, item, context.Session.BeginBatch(context.Scratch), FrameKind.Text, 0).ConfigureAwait(false);
        foreach (var part in item.Parts)
        {
            if (item.CancelRequested)
            {
                await WriteEncodedAsync(context, item, context.Session.AbortBatch(context.Scratch), FrameKind.Text, 0).ConfigureAwait(false);
                return false;
            }

            var wire = context.Session.Encode(part, context.Scratch, out var wireKind, out _);
            await WriteEncodedAsync(context, item, wire, wireKind, 0).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Writes what the session encoded (nothing if empty), awaiting its reply if it asked for one.</summary>
    private async Task WriteEncodedAsync(SendContext context, OutboundItem item, ReadOnlyMemory<byte> wire, FrameKind kind, long replyKey)
    {
        if (replyKey != 0)
        {
            // Before the write: the reply may come before the write returns.
            AwaitingReply[replyKey] = new AwaitedReply(item, _time.GetTimestamp());
        }

        if (!wire.IsEmpty)
        {
            await WriteAsync(context.Socket, wire, kind, context.Token).ConfigureAwait(false);
        }

        context.Scratch.ResetWrittenCount();
    }

    /// <summary>One message, written whole, exclusive with other writers (control messages, the close frame).</summary>
    private async Task WriteAsync(WebSocket socket, ReadOnlyMemory<byte> payload, FrameKind kind, CancellationToken cancellationToken)
    {
        await WriteLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var type = kind == FrameKind.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
            await socket.SendAsync(payload, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            WriteLock.Release();
        }

        _status.AddSent(payload.Length);
    }

    /// <summary>One Ready connection's means to write, and the signal that it is gone.</summary>
    private sealed class SendContext(WebSocket socket, IProtocolSession session, CancellationToken token)
    {
        public WebSocket Socket { get; } = socket;

        public IProtocolSession Session { get; } = session;

        public CancellationToken Token { get; } = token;

        // Both made on first use: an idle connection never sends, and nobody waits for its loss.
        private ArrayBufferWriter<byte>? _scratch;
        private TaskCompletionSource? _lost;

        /// <summary>The send loop's encoding buffer (only the send loop uses it).</summary>
        public ArrayBufferWriter<byte> Scratch => _scratch ??= new();

        public TaskCompletionSource Lost
        {
            get
            {
                if (Volatile.Read(ref _lost) is { } lost)
                {
                    return lost;
                }

                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return Interlocked.CompareExchange(ref _lost, created, null) ?? created;
            }
        }

        /// <summary>Not Ready for user sends right now (<see cref="SetPaused"/>).</summary>
        public bool Paused
        {
            get => Volatile.Read(ref _paused);
            set => Volatile.Write(ref _paused, value);
        }

        private bool _paused;
    }
}
