using System.Runtime.CompilerServices;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Gateway.Host.Transport;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Dispatch;

/// <summary>
/// One socket's bounded queue and the loop that runs its handlers, one frame at a time, in order.
/// Each socket has its own, so a slow socket never stalls another. Lives across reconnects: a
/// reconnect loses no queued frame.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "CompleteAsync, the end of its life, disposes it.")]
internal sealed partial class FrameDispatcher
{
    /// <summary>At most one frame per socket per interval is timed for the duration and lag histograms.</summary>
    public static readonly TimeSpan TimingInterval = TimeSpan.FromMilliseconds(1);

    private readonly string _socketName;
    private readonly FrameQueue _queue;
    private readonly QueueFullMode _fullMode;
    private readonly FrameBufferPool _pool;
    private readonly GatewayMetrics _metrics;
    private readonly SocketStatus _status;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _abort = new();
    private readonly LogThrottle _dropLogThrottle = new();
    private readonly long _timingInterval;
    private volatile HandlerPipeline _pipeline;
    private Task _consumer = Task.CompletedTask;
    private long _receivedAtLastTrim;
    private long _lastTimed = long.MinValue / 2;
    private volatile bool _waitingForRoom;
    private long _roomWaitEnded;
    private long _roomWaitStarted;
    private long _roomWaitTotal;
    private long _lostInFlight;

    // Frames of a batch that wait for room in the queue (Wait); kept for the next wait, let go when the socket idles.
    private FrameEnvelope[]? _waiting;

    private const int IdleTicksBeforeTrim = 10;

    // The small first ring and chunk go sooner: making them again costs two small arrays per burst after a pause.
    private const int IdleTicksBeforeSmallTrim = 2;
    private int _idleTicks;

    // What the consumer takes from the queue at a time: small until frames pile up, let go when the socket idles.
    private const int InitialChunk = 4;
    private FrameEnvelope[]? _chunk;

    // Consumer only: the shared receive buffer the frames it finished last hold references to, and how many.
    private SharedBuffer? _releasing;
    private int _releaseCount;

    // The connection whose OnConnected the handlers have seen and whose OnDisconnected they have not.
    private UpstreamConnection? _announced;

    // The newest disconnect, kept in case a drop policy discards its queue item.
    private volatile DisconnectEvent? _lastDisconnect;

    public FrameDispatcher(string socketName, QueueOptions queue, HandlerPipeline pipeline, FrameBufferPool pool, GatewayMetrics metrics, SocketStatus status, TimeProvider time, ILogger logger)
    {
        _socketName = socketName;
        _fullMode = queue.FullMode;
        _pipeline = pipeline;
        _pool = pool;
        _metrics = metrics;
        _status = status;
        _time = time;
        _logger = logger;
        _timingInterval = (long)(TimingInterval.TotalSeconds * time.TimestampFrequency);
        _maxInFlight = queue.MaxInFlight;
        _resumeInFlight = _maxInFlight - Math.Max(1, _maxInFlight / 4);
        _settleTimeout = queue.SettleTimeout;
        // Under Wait, the reader's continuation may run on the receive loop's thread: no thread-pool hop per
        // batch while the queue is empty, and the socket waits for its handlers anyway. Drop modes keep the
        // hop, so that a busy handler never delays reading (the drop policy decides).
        _queue = new FrameQueue(queue.Capacity, queue.FullMode, OnDropped, synchronousReader: queue.FullMode == QueueFullMode.Wait);
        status.Queue = _queue;
    }

    /// <summary>Starts the consumer: it runs here until it waits for the first item (the queue is still empty), then where items arrive.</summary>
    public void Start() => _consumer = ConsumeAsync();

    public void UpdateHandlers(HandlerPipeline pipeline) => _pipeline = pipeline;

    /// <summary>Queues a frame. Under <see cref="QueueFullMode.Wait"/> this waits for room, which stops the socket's reads.</summary>
    /// <remarks>Takes no token (a cancellable wait allocates); <see cref="StopAccepting"/> ends a wait.</remarks>
    public ValueTask EnqueueAsync(in FrameEnvelope envelope)
    {
        if (_fullMode != QueueFullMode.Wait)
        {
            // Drop modes always accept the item being written (DropWrite counts it through OnDropped).
            if (!_queue.TryWrite(envelope))
            {
                Discard(envelope, "shutdown", FrameOutcome.Lost);
            }

            return ValueTask.CompletedTask;
        }

        return _queue.TryWrite(envelope) ? ValueTask.CompletedTask : WaitAndWriteAsync(envelope);
    }

    /// <summary>
    /// Queues <paramref name="count"/> frames of <paramref name="envelopes"/> in order, waking the handlers once;
    /// under <see cref="QueueFullMode.Wait"/> waits for room for those that do not fit (in an array of their own:
    /// the caller's is cleared and free again when this returns, even before the wait ends).
    /// </summary>
    /// <remarks>A frame the stop refuses is counted lost; then this throws <see cref="OperationCanceledException"/> (Wait) as <see cref="EnqueueAsync"/> does.</remarks>
    public ValueTask EnqueueAsync(FrameEnvelope[] envelopes, int count)
    {
        var written = _queue.Write(envelopes.AsSpan(0, count));
        if (written == count)
        {
            Array.Clear(envelopes, 0, count);
            return ValueTask.CompletedTask;
        }

        if (_fullMode != QueueFullMode.Wait)
        {
            // Drop modes accept everything unless the queue is completed.
            LoseRest(envelopes, written, count);
            return ValueTask.CompletedTask;
        }

        // The rest waits in the dispatcher's own array (reused: one receive loop writes at a time; let go when idle).
        var left = count - written;
        var rest = _waiting is { } waiting && waiting.Length >= left ? waiting : new FrameEnvelope[Math.Max(left, 64)];
        _waiting = null;
        envelopes.AsSpan(written, left).CopyTo(rest);
        Array.Clear(envelopes, 0, count);
        return WaitAndWriteRestAsync(rest, left);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitAndWriteRestAsync(FrameEnvelope[] rest, int count)
    {
        try
        {
            await WaitAndWriteAsync(rest, 0, count).ConfigureAwait(false);
        }
        finally
        {
            _waiting = rest;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitAndWriteAsync(FrameEnvelope[] envelopes, int written, int count)
    {
        var started = _time.GetTimestamp();
        Volatile.Write(ref _roomWaitStarted, started);
        _waitingForRoom = true;
        try
        {
            while (written < count && await _queue.WaitToWriteAsync().ConfigureAwait(false))
            {
                written += _queue.Write(envelopes.AsSpan(written, count - written));
            }
        }
        finally
        {
            var ended = _time.GetTimestamp();
            Interlocked.Add(ref _roomWaitTotal, ended - started);
            Volatile.Write(ref _roomWaitEnded, ended);
            _waitingForRoom = false;
        }

        if (written < count)
        {
            LoseRest(envelopes, written, count);
            throw new OperationCanceledException("the socket's queue no longer accepts frames");
        }

        Array.Clear(envelopes, 0, count);
    }

    private void LoseRest(FrameEnvelope[] envelopes, int written, int count)
    {
        for (var i = written; i < count; i++)
        {
            Discard(envelopes[i], "shutdown", FrameOutcome.Lost);
        }

        Array.Clear(envelopes, 0, count);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitAndWriteAsync(FrameEnvelope envelope)
    {
        var started = _time.GetTimestamp();
        Volatile.Write(ref _roomWaitStarted, started);
        _waitingForRoom = true;
        try
        {
            while (await _queue.WaitToWriteAsync().ConfigureAwait(false))
            {
                if (_queue.TryWrite(envelope))
                {
                    return;
                }
            }
        }
        finally
        {
            // Before the flag clears, so a watchdog that sees the wait over also sees when it ended (and
            // may count it twice for a moment, which delays a deadline rather than firing one early).
            var ended = _time.GetTimestamp();
            Interlocked.Add(ref _roomWaitTotal, ended - started);
            Volatile.Write(ref _roomWaitEnded, ended);
            _waitingForRoom = false;
        }

        Discard(envelope, "shutdown", FrameOutcome.Lost);
        throw new OperationCanceledException("the socket's queue no longer accepts frames");
    }

    /// <summary>The socket's reads wait for room in the queue (<see cref="QueueFullMode.Wait"/>): quiet by backpressure, not by a dead peer.</summary>
    public bool IsWaitingForRoom => _waitingForRoom;

    /// <summary>When the latest wait for room ended (a <see cref="TimeProvider"/> timestamp; 0 if none): reading resumed then.</summary>
    public long RoomWaitEndedAt => Volatile.Read(ref _roomWaitEnded);

    /// <summary>
    /// How long, in timestamp ticks, reads have waited for room so far (the current wait included):
    /// time in which the peer's answers could not be read, so protocol deadlines must not run in it.
    /// </summary>
    public long RoomWaitTicks(long now)
        => Volatile.Read(ref _roomWaitTotal) + (_waitingForRoom ? Math.Max(0, now - Volatile.Read(ref _roomWaitStarted)) : 0);

    /// <summary>A frame read while stopping: not delivered, it ends <see cref="FrameOutcome.Lost"/>.</summary>
    public void Lose(in FrameEnvelope envelope) => Discard(envelope, "shutdown", FrameOutcome.Lost);

    /// <summary>Refuses further frames and wakes a receive loop waiting for room (hard stop).</summary>
    public void StopAccepting() => _queue.Complete();

    /// <summary>
    /// Called about once a second: after <see cref="IdleTicksBeforeTrim"/> calls in a row without a frame, lets go of
    /// the pooled buffers, the queue's grown ring and the consumer's chunk (a socket that pauses between bursts for a
    /// few seconds keeps them, so its next burst allocates nothing); the queue's first small ring and chunk go after
    /// <see cref="IdleTicksBeforeSmallTrim"/> (a connected socket that has received nothing holds neither).
    /// </summary>
    public void TrimIfIdle()
    {
        var received = _status.FramesReceived;
        _idleTicks = received == _receivedAtLastTrim && _queue.Count == 0 ? _idleTicks + 1 : 0;
        if (_idleTicks == IdleTicksBeforeSmallTrim)
        {
            _queue.TrimIfEmpty(maxRing: FrameQueue.InitialRing);
            if (_chunk is { Length: <= InitialChunk })
            {
                _chunk = null;
            }
        }

        if (_idleTicks == IdleTicksBeforeTrim)
        {
            if (_pool.Retained > 0)
            {
                _pool.Trim();
            }

            _queue.TrimIfEmpty();
            if (!_waitingForRoom)
            {
                _waiting = null;
            }

            _chunk = null;
        }

        _receivedAtLastTrim = received;
    }

    public ValueTask ConnectedAsync(UpstreamConnection connection)
        => EnqueueAsync(FrameEnvelope.ForConnected(connection));

    /// <summary>Queues the end of a connection; never blocks, as handlers must learn of it even when the queue is full.</summary>
    public void Disconnected(UpstreamConnection connection, DisconnectReason reason)
    {
        _lastDisconnect = new DisconnectEvent(connection, reason);
        _ = _queue.TryWrite(FrameEnvelope.ForDisconnected(connection, reason));
    }

    private async Task ConsumeAsync()
    {
        FrameEnvelope[] chunk = [];
        var taken = 0;
        var next = 0;
        try
        {
            // No token: a cancellable wait allocates per call. CompleteAsync completes the queue before it aborts.
            while (!_abort.IsCancellationRequested && await _queue.WaitToReadAsync().ConfigureAwait(false))
            {
                chunk = _chunk ??= new FrameEnvelope[Math.Min(InitialChunk, _queue.ChunkSize)];
                while (!_abort.IsCancellationRequested && (taken = _queue.Take(chunk)) > 0)
                {
                    _dispatching = chunk;
                    for (next = 0; next < taken && !_abort.IsCancellationRequested;)
                    {
                        // Dispatched where it lies in the chunk (no copy); the frame ends (or is reported) in Dispatch.
                        var index = next++;
                        var pending = Dispatch(chunk, index);
                        if (!pending.IsCompletedSuccessfully)
                        {
                            ReleaseBuffers();
                            await pending.ConfigureAwait(false);
                        }

                        chunk[index] = default;
                    }

                    ReleaseBuffers();

                    if (taken == chunk.Length && chunk.Length < _queue.ChunkSize)
                    {
                        // Frames pile up: take more at a time (TrimIfIdle lets the larger chunk go again).
                        _chunk = chunk = new FrameEnvelope[Math.Min(chunk.Length * 4, _queue.ChunkSize)];
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Shutdown timeout: CompleteAsync reports what is left.
        }
        catch (Exception ex)
        {
            // Handler exceptions are caught per call; reaching here is a gateway bug. Keep the host up.
            Log.DispatcherFailed(_logger, _socketName, ex);
        }

        ReleaseBuffers();

        // Taken but not dispatched (the shutdown timeout cut in): lost, and reported with the rest.
        for (; next < taken; next++)
        {
            if (chunk[next].Kind == EnvelopeKind.Frame)
            {
                _lostInFlight++;
                Finish(chunk[next], FrameOutcome.Lost, "shutdown");
            }

            chunk[next] = default;
        }
    }

    /// <summary>
    /// The item at <paramref name="index"/> of the consumer's chunk. A frame of the announced connection, with room in
    /// flight, goes straight to its handlers: while they complete at once, no async state machine runs for it.
    /// </summary>
    private ValueTask Dispatch(FrameEnvelope[] chunk, int index)
    {
        ref readonly var envelope = ref chunk[index];
        return envelope.Kind == EnvelopeKind.Frame && ReferenceEquals(_announced, envelope.Connection) && InFlight < _maxInFlight
            ? RunHandlers(chunk, index)
            : DispatchSlowAsync(chunk, index);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DispatchSlowAsync(FrameEnvelope[] chunk, int index)
    {
        var envelope = chunk[index];
        switch (envelope.Kind)
        {
            case EnvelopeKind.Connected:
                await EnsureAnnouncedAsync(envelope.Connection).ConfigureAwait(false);
                return;
            case EnvelopeKind.Disconnected:
                if (ReferenceEquals(_announced, envelope.Connection) && envelope.Reason is { } reason)
                {
                    await AnnounceDisconnectAsync(envelope.Connection, reason).ConfigureAwait(false);
                }

                return;
        }

        var ready = false;
        try
        {
            if (!ReferenceEquals(_announced, envelope.Connection))
            {
                await EnsureAnnouncedAsync(envelope.Connection).ConfigureAwait(false);
            }

            if (InFlight >= _maxInFlight)
            {
                await WaitForRoomAsync().ConfigureAwait(false);
            }

            ready = true;
        }
        finally
        {
            if (!ready)
            {
                // Cut short by the shutdown timeout before its handlers ran.
                EndDispatch(envelope, FrameOutcome.Lost);
            }
        }

        await RunHandlers(chunk, index).ConfigureAwait(false);
    }

    /// <summary>Runs every handler, in order, even after one failed; then the frame ends (<see cref="EndDispatch"/>).</summary>
    private ValueTask RunHandlers(FrameEnvelope[] chunk, int index)
    {
        ref readonly var envelope = ref chunk[index];
        var pipeline = _pipeline;
        var frame = envelope.ToFrame(this);
        if (GatewayTelemetry.ActivitySource.HasListeners() && GatewayTelemetry.StartFrame(_socketName, frame) is { } span)
        {
            _currentSpan = span;
        }

        // Timing every frame would cost more than a small frame's whole trip (two histogram records and
        // clock reads per frame), so at most one frame per TimingInterval is timed: every frame on a
        // socket slower than that. Counts come from the frame counters, not from the histograms.
        var timed = envelope.Timestamp - _lastTimed >= _timingInterval;
        if (timed)
        {
            _lastTimed = envelope.Timestamp;
        }

        _dispatchIndex = index;
        var outcome = FrameOutcome.Handled;
        int waiting;
        ValueTask pending;
        long started;
        try
        {
            waiting = RunHandlersFrom(pipeline, frame, 0, timed, ref outcome, out pending, out started);
        }
        catch
        {
            // Only the shutdown's cancellation gets here: the frame's handlers were cut short.
            EndDispatch(envelope, FrameOutcome.Lost);
            throw;
        }

        if (waiting >= 0)
        {
            return ContinueHandlersAsync(chunk, index, pipeline, frame, waiting, pending, started, timed, outcome);
        }

        HandlersDone(envelope, outcome, timed);
        return ValueTask.CompletedTask;
    }

    /// <summary>A handler's <c>HandleAsync</c> did not complete at once: waits for it, then runs the rest.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ContinueHandlersAsync(FrameEnvelope[] chunk, int index, HandlerPipeline pipeline, Frame frame, int waiting, ValueTask pending, long started, bool timed, FrameOutcome outcome)
    {
        var token = _abort.Token;
        var done = false;
        try
        {
            while (waiting >= 0)
            {
                try
                {
                    await pending.ConfigureAwait(false);
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && token.IsCancellationRequested))
                {
                    HandlerFailed(pipeline, waiting, ex, frame.Sequence, ref outcome);
                }

                HandlerTimed(pipeline, waiting, started, timed);
                waiting = RunHandlersFrom(pipeline, frame, waiting + 1, timed, ref outcome, out pending, out started);
            }

            done = true;
        }
        finally
        {
            if (!done)
            {
                // The shutdown's cancellation cut the handlers short.
                EndDispatch(chunk[index], FrameOutcome.Lost);
            }
        }

        HandlersDone(chunk[index], outcome, timed);
    }

    /// <summary>
    /// Runs the handlers from <paramref name="from"/> on until one does not complete at once: returns its index (and
    /// what it returned in <paramref name="pending"/>), or -1 when every handler ran.
    /// </summary>
    private int RunHandlersFrom(HandlerPipeline pipeline, in Frame frame, int from, bool timed, ref FrameOutcome outcome, out ValueTask pending, out long started)
    {
        var handlers = pipeline.Handlers;
        var token = _abort.Token;
        for (var i = from; i < handlers.Length; i++)
        {
            started = timed ? _time.GetTimestamp() : 0;
            _currentHandler = i;
            try
            {
                var handling = handlers[i].HandleAsync(frame, token);
                if (!handling.IsCompletedSuccessfully)
                {
                    if (!handling.IsCompleted)
                    {
                        pending = handling;
                        return i;
                    }

                    handling.GetAwaiter().GetResult(); // throws what the handler threw
                }
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && token.IsCancellationRequested))
            {
                HandlerFailed(pipeline, i, ex, frame.Sequence, ref outcome);
            }

            HandlerTimed(pipeline, i, started, timed);
        }

        pending = default;
        started = 0;
        return -1;
    }

    private void HandlerTimed(HandlerPipeline pipeline, int index, long started, bool timed)
    {
        if (timed && _metrics.HandlerDurationEnabled)
        {
            _metrics.HandlerCompleted(_socketName, pipeline.Names[index], _time.GetElapsedTime(started).TotalSeconds);
        }
    }

    private void HandlersDone(in FrameEnvelope envelope, FrameOutcome outcome, bool timed)
    {
        if (timed && _metrics.FrameLagEnabled)
        {
            _metrics.FrameCompleted(_socketName, _time.GetElapsedTime(envelope.Timestamp).TotalSeconds);
        }

        if (outcome == FrameOutcome.Handled)
        {
            _status.RecordHandlersSucceeded();
        }

        EndDispatch(envelope, outcome);
    }

    /// <summary>The frame's handlers returned (or were cut short: <see cref="FrameOutcome.Lost"/>): it ends, unless a handler deferred it.</summary>
    private void EndDispatch(in FrameEnvelope envelope, FrameOutcome outcome)
    {
        if (outcome == FrameOutcome.Lost)
        {
            _lostInFlight++;
        }

        // A handler that deferred the frame settles it later; the others end here.
        if (!HandOver(envelope, outcome))
        {
            GatewayTelemetry.EndFrame(_currentSpan, outcome);
            Finish(envelope, outcome, "shutdown", consumer: true);
        }

        if (_currentSpan is not null)
        {
            // A deferred frame's span stays open: the next frame's must not become its child.
            System.Diagnostics.Activity.Current = null;
            _currentSpan = null;
        }
    }

    private void HandlerFailed(HandlerPipeline pipeline, int index, Exception exception, long sequence, ref FrameOutcome outcome)
    {
        if (outcome == FrameOutcome.Handled)
        {
            _status.RecordHandlerFailing(pipeline.Names[index], _time.GetUtcNow());
        }

        outcome = FrameOutcome.HandlerFailed;
        HandlerFailed(pipeline, index, exception, sequence);
    }

    private void HandlerFailed(HandlerPipeline pipeline, int index, Exception exception, long sequence)
    {
        _status.AddHandlerError();
        _metrics.HandlerFailed(_socketName, pipeline.Names[index], exception);
        if (pipeline.Throttles[index].ShouldLog(_time, out var suppressed))
        {
            Log.HandlerFailed(_logger, pipeline.Names[index], _socketName, sequence, suppressed, exception);
        }
    }

    private void OnDropped(FrameEnvelope envelope)
    {
        if (envelope.Kind == EnvelopeKind.Frame)
        {
            Discard(envelope, "queue_full");
        }
    }

    private void Discard(in FrameEnvelope envelope, string reason, FrameOutcome outcome = FrameOutcome.Dropped)
    {
        if (envelope.Kind != EnvelopeKind.Frame)
        {
            return;
        }

        Finish(envelope, outcome, reason);
        if (_dropLogThrottle.ShouldLog(_time, out var suppressed))
        {
            Log.FrameDropped(_logger, _socketName, envelope.Sequence, reason, suppressed);
        }
    }

    /// <summary>
    /// The single exit of every frame: counted by its outcome, the session told (STOMP ACK/NACK; raw
    /// frames carry no completion), the buffer returned.
    /// </summary>
    /// <param name="consumer">Called by the consumer loop: a reference to a shared receive buffer is dropped with the next ones (<see cref="ReleaseBuffers"/>).</param>
    private void Finish(in FrameEnvelope envelope, FrameOutcome outcome, string dropReason, bool consumer = false)
    {
        if (outcome is FrameOutcome.Handled or FrameOutcome.HandlerFailed)
        {
            _status.AddHandled();
        }
        else
        {
            _status.AddDropped();
            _metrics.FrameDropped(_socketName, dropReason);
        }

        envelope.Completion?.Complete(envelope.CompletionToken, outcome);
        if (consumer && envelope.Shared is { } shared)
        {
            // The frames of one read share its buffer: one interlocked release for the run of them, not one each.
            if (!ReferenceEquals(shared, _releasing))
            {
                ReleaseBuffers();
                _releasing = shared;
            }

            _releaseCount++;
        }
        else
        {
            envelope.ReturnBuffer(_pool);
        }
    }

    /// <summary>Drops the references the consumer's finished frames hold to a shared receive buffer (consumer only).</summary>
    private void ReleaseBuffers()
    {
        if (_releasing is { } shared)
        {
            _releasing = null;
            shared.Release(_releaseCount);
            _releaseCount = 0;
        }
    }
}
