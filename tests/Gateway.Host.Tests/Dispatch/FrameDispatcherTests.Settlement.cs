using System.Collections.Concurrent;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Protocols;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Tests.Dispatch;

/// <summary>Deferred settlement: frames a handler hands to a sink are completed when the sink settles them.</summary>
public sealed partial class FrameDispatcherTests
{
    private DeferringHandler Deferrer => _services.GetRequiredService<DeferringHandler>();

    [Fact]
    public async Task Defer_SettledLater_CompletedOnSettlementBufferReturnedWhenTheHandlersReturned()
    {
        var dispatcher = Dispatcher(handlers: ["record", "defer"]);

        await EnqueueAsync(dispatcher, 1, 2);
        await Eventually.TrueAsync(() => Deferrer.Pending.Count == 2, "both frames handed over");
        var beforeSettling = _completion.Outcomes.Count;
        AssertAllBuffersReturned();
        Assert.Equal(2, dispatcher.InFlight);

        Deferrer.Settle(2, succeed: true);
        Deferrer.Settle(1, succeed: false);
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal(0, beforeSettling);
        Assert.Equal([FrameOutcome.HandlerFailed, FrameOutcome.Handled], _completion.For(1, 2));
        Assert.Equal((2L, 1L), (_status.FramesHandled, _status.HandlerErrors));
        Assert.Equal(0, dispatcher.InFlight);
    }

    [Fact]
    public async Task Defer_MaxInFlightReached_NextFrameWaitsUntilOneSettles()
    {
        var dispatcher = Dispatcher(new QueueOptions { Capacity = 16, MaxInFlight = 2 }, "defer");

        await EnqueueAsync(dispatcher, 1, 2, 3);
        await Eventually.TrueAsync(() => Deferrer.Pending.Count == 2, "two frames in flight");
        await Task.Delay(50, TestContext.Current.CancellationToken);
        var whileFull = Deferrer.Seen.Count;
        Deferrer.Settle(1, succeed: true);

        await Eventually.TrueAsync(() => Deferrer.Seen.Count == 3, "the third frame handled once one settled");
        Assert.Equal(2, whileFull);
        Deferrer.Settle(2, succeed: true);
        Deferrer.Settle(3, succeed: true);
        await dispatcher.CompleteAsync(s_waitLimit);
        Assert.Equal([FrameOutcome.Handled, FrameOutcome.Handled, FrameOutcome.Handled], _completion.For(1, 2, 3));
    }

    [Fact]
    public async Task Defer_MaxInFlightReached_ResumesOnceAQuarterOfTheWindowSettled()
    {
        var dispatcher = Dispatcher(new QueueOptions { Capacity = 16, MaxInFlight = 8 }, "defer");

        await EnqueueAsync(dispatcher, [.. Enumerable.Range(1, 12).Select(i => (long)i)]);
        await Eventually.TrueAsync(() => Deferrer.Pending.Count == 8, "eight frames in flight");
        Deferrer.Settle(1, succeed: true);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        var afterOne = Deferrer.Seen.Count;
        Deferrer.Settle(2, succeed: true);

        // Two of eight settled: the consumer goes on, up to eight in flight again.
        await Eventually.TrueAsync(() => Deferrer.Seen.Count == 10, "two more frames handled");
        Assert.Equal(8, afterOne);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal((10, 8), (Deferrer.Seen.Count, dispatcher.InFlight));
        for (var i = 3; i <= 10; i++)
        {
            Deferrer.Settle(i, succeed: true);
        }

        await Eventually.TrueAsync(() => Deferrer.Seen.Count == 12, "the last two handled");
        Deferrer.Settle(11, succeed: true);
        Deferrer.Settle(12, succeed: true);
        await dispatcher.CompleteAsync(s_waitLimit);
        Assert.Equal(12, _completion.Outcomes.Count(o => o.Item2 == FrameOutcome.Handled));
    }

    [Fact]
    public async Task Defer_NotSettledWithinSettleTimeout_FailsAndIsCountedAsAHandlerError()
    {
        var dispatcher = Dispatcher(new QueueOptions { Capacity = 16, SettleTimeout = TimeSpan.FromSeconds(2) }, "defer");
        await EnqueueAsync(dispatcher, 1);
        await Eventually.TrueAsync(() => Deferrer.Pending.Count == 1, "handed over");

        _time.Advance(TimeSpan.FromSeconds(1.5));
        var early = _completion.Outcomes.Count;
        _time.Advance(TimeSpan.FromSeconds(1));

        await Eventually.TrueAsync(() => _completion.Outcomes.Count == 1, "failed by the timeout");
        Assert.Equal(0, early);
        Assert.Equal([FrameOutcome.HandlerFailed], _completion.For(1));
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Exception is TimeoutException);
        Deferrer.Settle(1, succeed: true); // too late: ignored
        await dispatcher.CompleteAsync(s_waitLimit);
        Assert.Single(_completion.Outcomes);
    }

    [Fact]
    public async Task CompleteAsync_SinkNeverSettles_FrameReportedLostAtTheEndOfTheBudget()
    {
        var dispatcher = Dispatcher(handlers: ["defer"]);
        await EnqueueAsync(dispatcher, 1, 2);
        await Eventually.TrueAsync(() => Deferrer.Pending.Count == 2, "handed over");
        Deferrer.Settle(1, succeed: true);

        var completing = dispatcher.CompleteAsync(TimeSpan.FromMilliseconds(100));
        await Eventually.TrueAsync(() =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(20)); // the stop's budget runs on the fake clock
            return completing.IsCompleted;
        }, "the stop gave up waiting for the sink");
        await completing;

        Assert.Equal([FrameOutcome.Handled, FrameOutcome.Lost], _completion.For(1, 2));
        Assert.Equal((1L, 1L), (_status.FramesHandled, _status.FramesDropped));
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Message.Contains("1 frame", StringComparison.Ordinal) || r.Message.Contains("lost", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Defer_HalfTheFramesSettledFromThePoolWhileTheOthersFinishInline_EveryFrameCountedOnce()
    {
        const int count = 20_000;
        var dispatcher = Dispatcher(new QueueOptions { Capacity = 256, MaxInFlight = 256 }, "defer-even");

        for (var sequence = 1; sequence <= count; sequence++)
        {
            await dispatcher.EnqueueAsync(Frame(sequence, withCompletion: false));
        }

        await Eventually.TrueAsync(() => _status.FramesHandled == count, $"every frame counted ({_status.FramesHandled} of {count})");
        await dispatcher.CompleteAsync(s_waitLimit);
        Assert.Equal((long)count, _status.FramesHandled);
        Assert.Equal(0, dispatcher.InFlight);
    }

    [Fact]
    public void Defer_FrameNotBeingHandled_Throws()
    {
        var frame = new Frame(_connection, 1, FrameKind.Text, new byte[] { 1 }, default, DateTimeOffset.UnixEpoch, 0, Dispatcher(handlers: ["record"]));

        Assert.Throws<InvalidOperationException>(() => frame.Defer());
        Assert.Throws<InvalidOperationException>(() => new Frame(_connection, 1, FrameKind.Text, new byte[] { 1 }, DateTimeOffset.UnixEpoch, 0).Defer());
    }
}

/// <summary>Takes over every frame's settlement and keeps it until the test settles it.</summary>
internal sealed class DeferringHandler : IFrameHandler
{
    public ConcurrentDictionary<long, FrameSettlement> Pending { get; } = new();

    public ConcurrentQueue<long> Seen { get; } = new();

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        Seen.Enqueue(frame.Sequence);
        Pending[frame.Sequence] = frame.Defer();
        return ValueTask.CompletedTask;
    }

    public void Settle(long sequence, bool succeed)
    {
        if (Pending.TryRemove(sequence, out var settlement))
        {
            if (succeed)
            {
                settlement.Succeed();
            }
            else
            {
                settlement.Fail(new InvalidOperationException($"sink refused {sequence}"));
            }
        }
    }
}

/// <summary>Defers the even frames and settles them from the thread pool at once: settlements race the consumer's own counting.</summary>
internal sealed class EvenDeferringHandler : IFrameHandler
{
    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        if (frame.Sequence % 2 == 0)
        {
            var settlement = frame.Defer();
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Succeed(), settlement, preferLocal: false);
        }

        return ValueTask.CompletedTask;
    }
}
