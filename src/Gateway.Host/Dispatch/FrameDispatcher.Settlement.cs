using System.Collections.Concurrent;
using Gateway.Host.Protocols;

namespace Gateway.Host.Dispatch;

/// <summary>
/// Deferred settlement: a handler that calls <see cref="Frame.Defer"/> takes the frame's outcome over.
/// Its buffer goes back to the pool when the handlers returned; the frame is counted and its session
/// told (STOMP ACK/NACK) once every deferral settled. Meanwhile the queue moves on, up to
/// <c>Queue:MaxInFlight</c> frames awaiting settlement; one not settled within <c>Queue:SettleTimeout</c> fails.
/// </summary>
internal sealed partial class FrameDispatcher : IFrameSettler
{
    // Frames whose handlers returned and whose deferrals are not all settled yet; made by the first deferral (a
    // socket whose handlers never defer does without it: it is the larger part of an idle dispatcher).
    private ConcurrentDictionary<InFlightFrame, byte>? _inFlight;

    // Its size, kept beside it: the consumer reads it per frame, and ConcurrentDictionary's Count and
    // IsEmpty take every lock. Changed only together with an add or a successful remove.
    private int _inFlightCount;
    private readonly int _maxInFlight;

    // Once MaxInFlight is reached, the consumer waits until this many or fewer are left (a quarter of
    // the window freed, at least one): one wake-up per batch of settlements, not one per frame.
    private readonly int _resumeInFlight;
    private readonly TimeSpan _settleTimeout;

    // The frame whose handlers are running, once one deferred it (consumer loop only), and which handler runs.
    private InFlightFrame? _current;
    private int _currentHandler;

    // The consumer's chunk, and where in it the frame whose handlers run is (-1: none).
    private FrameEnvelope[] _dispatching = [];
    private int _dispatchIndex = -1;
    private System.Diagnostics.Activity? _currentSpan;
    private TaskCompletionSource? _settled;
    private ITimer? _settleTimer;
    private long _settleLost;

    /// <summary>Frames awaiting settlement.</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);

    FrameSettlement IFrameSettler.Defer(in Frame frame)
    {
        var index = _dispatchIndex;
        if (index < 0 || frame.Sequence != _dispatching[index].Sequence)
        {
            throw new InvalidOperationException("Frame.Defer() is called while the frame's HandleAsync runs, not after it returned.");
        }

        if (_current is null)
        {
            ref readonly var envelope = ref _dispatching[index];
            _current = new InFlightFrame(this, envelope.Completion, envelope.CompletionToken, envelope.Sequence, _time.GetTimestamp(), _pipeline);
            if (_settleTimer is null)
            {
                var period = TimeSpan.FromTicks(Math.Clamp(_settleTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond));
                _settleTimer = _time.CreateTimer(static state => ((FrameDispatcher)state!).FailOverdue(), this, period, period);
            }
        }

        return _current.Add(_currentHandler);
    }

    /// <summary>
    /// <c>MaxInFlight</c> frames await settlement: waits until a quarter of them settled (the queue fills
    /// meanwhile: backpressure).
    /// </summary>
    private async ValueTask WaitForRoomAsync()
    {
        while (InFlight > _resumeInFlight && !_abort.IsCancellationRequested)
        {
            var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _settled, settled); // a full fence: the settler's decrement is seen below, or it sees this
            if (InFlight <= _resumeInFlight)
            {
                break;
            }

            await settled.Task.WaitAsync(_abort.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The handlers returned: a deferred frame leaves its buffer and awaits its settlements; true if it was deferred.</summary>
    private bool HandOver(in FrameEnvelope envelope, FrameOutcome handlersOutcome)
    {
        _dispatchIndex = -1;
        if (_current is not { } frame)
        {
            return false;
        }

        _current = null;
        frame.Span = _currentSpan; // ends with the settlement
        envelope.ReturnBuffer(_pool); // the handlers were told: the payload is theirs only until HandleAsync returns

        var inFlight = _inFlight;
        if (inFlight is null)
        {
            Volatile.Write(ref _inFlight, inFlight = new ConcurrentDictionary<InFlightFrame, byte>());
        }

        inFlight[frame] = 0;
        Interlocked.Increment(ref _inFlightCount);
        frame.HandlersReturned(handlersOutcome);
        return true;
    }

    /// <summary>Every deferral settled: the frame's one exit (counted, the session told), like <see cref="Finish"/> without the buffer.</summary>
    private void Settled(InFlightFrame frame, FrameOutcome outcome)
    {
        if (Volatile.Read(ref _inFlight) is not { } inFlight || !inFlight.TryRemove(frame, out _))
        {
            return; // reported lost at the stop
        }

        var left = Interlocked.Decrement(ref _inFlightCount);

        if (outcome is FrameOutcome.Handled or FrameOutcome.HandlerFailed)
        {
            _status.AddSettled(); // any thread: AddHandled is the consumer's alone
            if (outcome == FrameOutcome.Handled)
            {
                _status.RecordHandlersSucceeded();
            }
        }
        else
        {
            _status.AddDropped();
            _metrics.FrameDropped(_socketName, "shutdown");
        }

        frame.Completion?.Complete(frame.CompletionToken, outcome);
        Metrics.GatewayTelemetry.EndFrame(frame.Span, outcome);
        if (left <= _resumeInFlight)
        {
            Volatile.Read(ref _settled)?.TrySetResult();
        }
    }

    private void DeferralFailed(InFlightFrame frame, int handler, Exception exception)
    {
        var pipeline = frame.Pipeline;
        if (handler < pipeline.Names.Length)
        {
            _status.RecordHandlerFailing(pipeline.Names[handler], _time.GetUtcNow());
            HandlerFailed(pipeline, handler, exception, frame.Sequence);
        }
    }

    /// <summary>From the settle timer: deferrals older than <c>SettleTimeout</c> fail.</summary>
    private void FailOverdue()
    {
        var now = _time.GetTimestamp();
        foreach (var frame in Volatile.Read(ref _inFlight)?.Keys ?? [])
        {
            if (_time.GetElapsedTime(frame.StartedAt, now) >= _settleTimeout)
            {
                frame.FailPending(new TimeoutException($"not settled within Queue:SettleTimeout ({_settleTimeout.TotalSeconds:0.###} s)"));
            }
        }
    }

    /// <summary>At the stop, with the socket still open: waits up to <paramref name="timeout"/> for the settlements, so their acknowledgements go out.</summary>
    private async Task WaitSettledAsync(TimeSpan timeout)
    {
        var deadline = _time.GetTimestamp();
        while (InFlight > 0 && _time.GetElapsedTime(deadline) < timeout)
        {
            var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _settled, settled);
            if (InFlight == 0)
            {
                break;
            }

            try
            {
                await settled.Task.WaitAsync(timeout - _time.GetElapsedTime(deadline), _time).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or ArgumentOutOfRangeException)
            {
                break;
            }
        }
    }

    /// <summary>The end: frames still awaiting settlement are Lost (counted; the caller reports them).</summary>
    private long LoseUnsettled()
    {
        long lost = 0;
        var inFlight = Volatile.Read(ref _inFlight);
        foreach (var frame in inFlight?.Keys ?? [])
        {
            if (inFlight!.TryRemove(frame, out _))
            {
                Interlocked.Decrement(ref _inFlightCount);
                lost++;
                _status.AddDropped();
                _metrics.FrameDropped(_socketName, "shutdown");
                frame.Completion?.Complete(frame.CompletionToken, FrameOutcome.Lost);
                Metrics.GatewayTelemetry.EndFrame(frame.Span, FrameOutcome.Lost);
            }
        }

        _settleTimer?.Dispose();
        _settleLost += lost;
        return lost;
    }

    /// <summary>One deferred frame: its deferrals, and whether the handlers have returned.</summary>
    private sealed class InFlightFrame(FrameDispatcher owner, IFrameCompletion? completion, long completionToken, long sequence, long startedAt, HandlerPipeline pipeline)
    {
        private readonly Lock _lock = new();
        private readonly List<Deferral> _deferrals = [];
        private int _pending = 1; // the handlers themselves, until they return
        private FrameOutcome _outcome = FrameOutcome.Handled;

        public IFrameCompletion? Completion { get; } = completion;

        public long CompletionToken { get; } = completionToken;

        public long Sequence { get; } = sequence;

        public long StartedAt { get; } = startedAt;

        public HandlerPipeline Pipeline { get; } = pipeline;

        /// <summary>The frame's span, when tracing is on; it ends at the settlement.</summary>
        public System.Diagnostics.Activity? Span { get; set; }

        public Deferral Add(int handler)
        {
            var deferral = new Deferral(this, handler);
            lock (_lock)
            {
                _deferrals.Add(deferral);
                _pending++;
            }

            return deferral;
        }

        public void HandlersReturned(FrameOutcome outcome)
        {
            lock (_lock)
            {
                if (outcome != FrameOutcome.Handled)
                {
                    _outcome = outcome;
                }
            }

            Release();
        }

        public void Settle(Deferral deferral, Exception? failure)
        {
            if (failure is not null)
            {
                lock (_lock)
                {
                    if (_outcome == FrameOutcome.Handled)
                    {
                        _outcome = FrameOutcome.HandlerFailed;
                    }
                }

                owner.DeferralFailed(this, deferral.Handler, failure);
            }

            Release();
        }

        public void FailPending(Exception exception)
        {
            Deferral[] deferrals;
            lock (_lock)
            {
                deferrals = [.. _deferrals];
            }

            foreach (var deferral in deferrals)
            {
                deferral.Fail(exception);
            }
        }

        private void Release()
        {
            FrameOutcome outcome;
            lock (_lock)
            {
                if (--_pending != 0)
                {
                    return;
                }

                outcome = _outcome;
            }

            owner.Settled(this, outcome);
        }
    }

    /// <summary>One handler's hold on a frame; the first call settles it.</summary>
    private sealed class Deferral(InFlightFrame frame, int handler) : FrameSettlement
    {
        private int _settled;

        public int Handler { get; } = handler;

        public override void Succeed()
        {
            if (Interlocked.Exchange(ref _settled, 1) == 0)
            {
                frame.Settle(this, null);
            }
        }

        public override void Fail(Exception? exception = null)
        {
            if (Interlocked.Exchange(ref _settled, 1) == 0)
            {
                frame.Settle(this, exception ?? new InvalidOperationException("the sink refused the frame"));
            }
        }
    }
}
