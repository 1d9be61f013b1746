using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Gateway.Host.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Dispatch;

public sealed partial class FrameDispatcherTests : IDisposable
{
    private const string Socket = "s";
    private static readonly TimeSpan s_waitLimit = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly FakeLogger<FrameDispatcher> _logger = new();
    private readonly RecordingCompletion _completion = new();
    private readonly FrameBufferPool _pool = new(maxRetainedPerSize: 1000);
    private readonly SocketStatus _status = new(Socket, "Raw", required: true, "ws://upstream/");
    private readonly UpstreamConnection _connection = new(Socket, 1, new Uri("ws://upstream/"), null, DateTimeOffset.UnixEpoch);
    private readonly ServiceProvider _services;
    private readonly MetricCollector<long> _dropped;

    // Every buffer the test rented; all are back in the pool when the pool keeps as many (Rent reuses returned ones).
    private readonly HashSet<byte[]> _rented = new(ReferenceEqualityComparer.Instance);

    public FrameDispatcherTests()
    {
        _services = new ServiceCollection()
            .AddMetrics()
            .AddFrameHandler<RecordingHandler>("record")
            .AddFrameHandler<ThrowingHandler>("throw")
            .AddFrameHandler<DeferringHandler>("defer")
            .AddFrameHandler<EvenDeferringHandler>("defer-even")
            .AddFrameHandler<GateHandler>("gate")
            .BuildServiceProvider();
        _dropped = new MetricCollector<long>(_services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "gateway.frames.dropped");
    }

    private RecordingHandler Recorder => _services.GetRequiredService<RecordingHandler>();

    private GateHandler Gate => _services.GetRequiredService<GateHandler>();

    public void Dispose()
    {
        _dropped.Dispose();
        _services.Dispose();
    }

    private FrameDispatcher Dispatcher(QueueFullMode mode = QueueFullMode.Wait, int capacity = 16, params string[] handlers)
        => Dispatcher(new QueueOptions { Capacity = capacity, FullMode = mode }, handlers);

    private FrameDispatcher Dispatcher(QueueOptions queue, params string[] handlers)
    {
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>(), new SocketHealthTracker());
        var pipeline = new HandlerPipeline(_services, handlers.Length == 0 ? ["record"] : handlers);
        var dispatcher = new FrameDispatcher(Socket, queue, pipeline, _pool, metrics, _status, _time, _logger);
        dispatcher.Start();
        return dispatcher;
    }

    private byte[] Rent(int length)
    {
        var buffer = _pool.Rent(length);
        _rented.Add(buffer);
        return buffer;
    }

    private void AssertAllBuffersReturned() => Assert.Equal(_rented.Count, _pool.Retained);

    /// <summary>A frame with payload "f{sequence}" at an offset in a pooled buffer; token = sequence.</summary>
    private FrameEnvelope Frame(long sequence, bool withCompletion = true)
    {
        var payload = System.Text.Encoding.UTF8.GetBytes($"f{sequence}");
        var buffer = Rent(300);
        buffer.AsSpan().Fill(0xEE);
        payload.CopyTo(buffer, 11);
        return FrameEnvelope.ForFrame(_connection, buffer, 11, payload.Length, FrameKind.Text, sequence, _time.GetUtcNow(), _time.GetTimestamp(),
            withCompletion ? _completion : null, withCompletion ? sequence : 0);
    }

    private async Task EnqueueAsync(FrameDispatcher dispatcher, params long[] sequences)
    {
        foreach (var sequence in sequences)
        {
            await dispatcher.EnqueueAsync(Frame(sequence));
        }
    }

    [Fact]
    public async Task EnqueueAsync_AllHandlersSucceed_CompletedHandledOnceAndBufferReturned()
    {
        var dispatcher = Dispatcher(handlers: ["record", "record"]);

        await EnqueueAsync(dispatcher, 1, 2);
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([(1L, FrameOutcome.Handled), (2L, FrameOutcome.Handled)], _completion.Outcomes);
        Assert.Equal(["f1", "f1", "f2", "f2"], Recorder.Texts);
        AssertAllBuffersReturned();
        Assert.Equal((2L, 0L), (_status.FramesHandled, _status.FramesDropped));
    }

    [Fact]
    public async Task EnqueueAsync_FrameAtAnOffset_HandlerSeesExactlyTheSlice()
    {
        var dispatcher = Dispatcher();
        var buffer = Rent(512);
        Random.Shared.NextBytes(buffer);
        var expected = buffer.AsSpan(7, 300).ToArray();

        await dispatcher.EnqueueAsync(FrameEnvelope.ForFrame(_connection, buffer, 7, 300, FrameKind.Binary, 9, _time.GetUtcNow(), _time.GetTimestamp(), _completion, 9));
        await dispatcher.CompleteAsync(s_waitLimit);

        var seen = Assert.Single(Recorder.Frames);
        Assert.Equal(expected, seen.Payload);
        Assert.Equal((9L, FrameKind.Binary, Socket), (seen.Sequence, seen.Kind, seen.Socket));
    }

    [Fact]
    public async Task EnqueueAsync_OneHandlerThrows_HandlerFailedAndLaterHandlersStillRan()
    {
        var dispatcher = Dispatcher(handlers: ["throw", "record"]);

        await EnqueueAsync(dispatcher, 1);
        await dispatcher.EnqueueAsync(FrameEnvelope.ForFrame(_connection, Rent(256), 0, 4, FrameKind.Text, 2, default, _time.GetTimestamp(), _completion, 2));
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([(1L, FrameOutcome.HandlerFailed), (2L, FrameOutcome.Handled)], _completion.Outcomes);
        Assert.Equal(2, Recorder.Frames.Count);
        Assert.Equal(1, _status.HandlerErrors);
        Assert.Equal(2, _status.FramesHandled);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Id == 300);
        AssertAllBuffersReturned();
    }

    [Fact]
    public async Task EnqueueAsync_FrameWithoutCompletion_HandledAndBufferReturned()
    {
        var dispatcher = Dispatcher();

        await dispatcher.EnqueueAsync(Frame(1, withCompletion: false));
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Empty(_completion.Outcomes);
        Assert.Equal(["f1"], Recorder.Texts);
        Assert.Equal(1, _status.FramesHandled);
        AssertAllBuffersReturned();
    }

    [Fact]
    public async Task EnqueueAsync_DropNewestWhileHandlerBlocked_ArrivingFramesDropped()
    {
        var dispatcher = Dispatcher(QueueFullMode.DropNewest, capacity: 2, "gate");
        await EnqueueAsync(dispatcher, 1);
        await Gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        await EnqueueAsync(dispatcher, 2, 3, 4, 5);
        Assert.Equal([(4L, FrameOutcome.Dropped), (5L, FrameOutcome.Dropped)], _completion.Outcomes);
        Gate.Open();
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([1L, 2L, 3L], Gate.Sequences);
        Assert.Equal([FrameOutcome.Handled, FrameOutcome.Handled, FrameOutcome.Handled], _completion.For(1, 2, 3));
        AssertAllBuffersReturned();
        Assert.Equal((3L, 2L), (_status.FramesHandled, _status.FramesDropped));
        AssertDropped("queue_full", 2);
    }

    [Fact]
    public async Task EnqueueAsync_DropOldestWhileHandlerBlocked_OldestQueuedFramesDropped()
    {
        var dispatcher = Dispatcher(QueueFullMode.DropOldest, capacity: 2, "gate");
        await EnqueueAsync(dispatcher, 1);
        await Gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        await EnqueueAsync(dispatcher, 2, 3, 4, 5);
        Assert.Equal([(2L, FrameOutcome.Dropped), (3L, FrameOutcome.Dropped)], _completion.Outcomes);
        Gate.Open();
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([1L, 4L, 5L], Gate.Sequences);
        Assert.Equal([FrameOutcome.Handled, FrameOutcome.Handled, FrameOutcome.Handled], _completion.For(1, 4, 5));
        AssertAllBuffersReturned();
        AssertDropped("queue_full", 2);
    }

    [Fact]
    public async Task EnqueueBatch_WaitAndMoreThanFits_CallersArrayFreeAtOnceRestWaitsAndAllHandledInOrder()
    {
        var dispatcher = Dispatcher(QueueFullMode.Wait, capacity: 4, "gate");
        await EnqueueAsync(dispatcher, 1);
        await Gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);
        var batch = Enumerable.Range(2, 10).Select(i => Frame(i)).ToArray();

        var queued = dispatcher.EnqueueAsync(batch, batch.Length);

        Assert.False(queued.IsCompleted);
        Assert.True(dispatcher.IsWaitingForRoom);
        Assert.All(batch, e => Assert.Null(e.Buffer)); // the caller's array is free again
        Gate.Open();
        await queued.AsTask().WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), Gate.Sequences);
        AssertAllBuffersReturned();
    }

    [Fact]
    public async Task EnqueueBatch_FramesSharingOneBuffer_BufferReturnedOnlyAfterTheLastFrame()
    {
        var dispatcher = Dispatcher(QueueFullMode.Wait, capacity: 16, "gate");
        var array = System.Buffers.ArrayPool<byte>.Shared.Rent(64);
        "f1f2f3"u8.CopyTo(array);
        var shared = SharedBuffer.Rent(array, System.Buffers.ArrayPool<byte>.Shared);
        shared.AddReferences(3);
        var batch = Enumerable.Range(0, 3).Select(i => FrameEnvelope.ForFrame(_connection, shared, 2 * i, 2, FrameKind.Text, i + 1, default, 0)).ToArray();

        await dispatcher.EnqueueAsync(batch, batch.Length);
        await Gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);
        shared.Release(); // the batch's own reference

        Assert.Same(array, shared.Array); // frames 1-3 still hold it
        Gate.Open();
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([1L, 2L, 3L], Gate.Sequences);
        Assert.Empty(shared.Array); // the last frame gave it back
    }

    [Fact]
    public async Task EnqueueBatch_RunsOfFramesFromTwoBuffers_EachBufferReturnedWhenItsLastFrameEnded()
    {
        var dispatcher = Dispatcher(QueueFullMode.Wait, capacity: 64, "gate"); // chunks of 4: the four frames are taken at once
        var gate = Gate;
        gate.OnlyFrame = 3;
        var first = SharedBuffer.Rent(System.Buffers.ArrayPool<byte>.Shared.Rent(64), System.Buffers.ArrayPool<byte>.Shared);
        var second = SharedBuffer.Rent(System.Buffers.ArrayPool<byte>.Shared.Rent(64), System.Buffers.ArrayPool<byte>.Shared);
        first.AddReferences(2);
        second.AddReferences(2);
        FrameEnvelope[] batch =
        [
            FrameEnvelope.ForFrame(_connection, first, 0, 2, FrameKind.Text, 1, default, 0),
            FrameEnvelope.ForFrame(_connection, first, 2, 2, FrameKind.Text, 2, default, 0),
            FrameEnvelope.ForFrame(_connection, second, 0, 2, FrameKind.Text, 3, default, 0), // waits in its handler
            FrameEnvelope.ForFrame(_connection, second, 2, 2, FrameKind.Text, 4, default, 0),
        ];

        await dispatcher.EnqueueAsync(batch, batch.Length);
        first.Release(); // the batches' own references
        second.Release();
        await gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        Assert.Empty(first.Array); // frames 1 and 2 ended: given back before the consumer waits for frame 3
        Assert.NotEmpty(second.Array);
        gate.Open();
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([1L, 2L, 3L, 4L], gate.Sequences);
        Assert.Empty(second.Array);
    }

    [Fact]
    public async Task TrimIfIdle_TenQuietTicks_BuffersLetGoNotBefore()
    {
        var dispatcher = Dispatcher();
        await EnqueueAsync(dispatcher, 1, 2);
        while (_status.FramesHandled < 2)
        {
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        Assert.True(_pool.Retained > 0);
        for (var tick = 1; tick < 10; tick++)
        {
            dispatcher.TrimIfIdle(); // the small ring and chunk go at 2; the buffers stay
            Assert.True(_pool.Retained > 0, $"buffers let go after {tick} quiet ticks");
        }

        dispatcher.TrimIfIdle();
        Assert.Equal(0, _pool.Retained);
        await EnqueueAsync(dispatcher, 3); // the next burst finds a ring and a chunk again
        await dispatcher.CompleteAsync(s_waitLimit);
        Assert.Equal(["f1", "f2", "f3"], Recorder.Texts);
    }

    [Fact]
    public async Task CompleteAsync_HandlerStillBusyAfterTimeout_CutOffFrameAndQueuedFramesLost()
    {
        var dispatcher = Dispatcher(handlers: "gate");
        await EnqueueAsync(dispatcher, 1, 2, 3);
        await Gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        var completing = dispatcher.CompleteAsync(TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(completing.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));
        await completing.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        Assert.Equal([(1L, FrameOutcome.Lost), (2L, FrameOutcome.Lost), (3L, FrameOutcome.Lost)], _completion.Outcomes);
        Assert.Equal([1L], Gate.Sequences);
        AssertAllBuffersReturned();
        Assert.Equal((0L, 3L), (_status.FramesHandled, _status.FramesDropped));
        AssertDropped("shutdown", 3);
        var lost = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Id.Id == 302);
        Assert.Contains(" 3 frames", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DrainAsync_HandlersFinishInTime_AllHandledAndCompleteAsyncLosesNothing()
    {
        var dispatcher = Dispatcher();
        await EnqueueAsync(dispatcher, 1, 2, 3);

        await dispatcher.DrainAsync(TimeSpan.FromSeconds(5)).WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);
        await dispatcher.CompleteAsync(TimeSpan.FromSeconds(5));

        Assert.Equal([FrameOutcome.Handled, FrameOutcome.Handled, FrameOutcome.Handled], _completion.For(1, 2, 3));
        Assert.DoesNotContain(_logger.Collector.GetSnapshot(), r => r.Id.Id == 302);
    }

    [Fact]
    public async Task DrainAsync_HandlerSlowerThanTimeout_ReturnsThenCompleteAsyncLosesTheRest()
    {
        var dispatcher = Dispatcher(handlers: "gate");
        await EnqueueAsync(dispatcher, 1, 2);
        await Gate.Entered.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        var draining = dispatcher.DrainAsync(TimeSpan.FromSeconds(3));
        _time.Advance(TimeSpan.FromSeconds(3));
        await draining.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);
        Assert.Empty(_completion.Outcomes);
        var completing = dispatcher.CompleteAsync(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));
        await completing.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        Assert.Equal([(1L, FrameOutcome.Lost), (2L, FrameOutcome.Lost)], _completion.Outcomes);
        AssertAllBuffersReturned();
    }

    [Fact]
    public async Task EnqueueAsync_AfterDrainStarted_FrameLostNotQueued()
    {
        var dispatcher = Dispatcher(QueueFullMode.DropOldest);
        await dispatcher.DrainAsync(TimeSpan.FromSeconds(1)).WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

        await EnqueueAsync(dispatcher, 1);
        await dispatcher.CompleteAsync(TimeSpan.FromSeconds(1));

        // The queue closes only for a stop: a frame it refuses then is lost to the shutdown, not dropped by a policy.
        Assert.Equal([(1L, FrameOutcome.Lost)], _completion.Outcomes);
        AssertDropped("shutdown", 1);
        Assert.Empty(Recorder.Frames);
        AssertAllBuffersReturned();
    }

    [Fact]
    public async Task Lose_FrameReadWhileStopping_LostAndBufferReturned()
    {
        var dispatcher = Dispatcher();

        dispatcher.Lose(Frame(7));
        await dispatcher.CompleteAsync(s_waitLimit);

        Assert.Equal([(7L, FrameOutcome.Lost)], _completion.Outcomes);
        Assert.Empty(Recorder.Frames);
        AssertAllBuffersReturned();
        Assert.Equal(1, _status.FramesDropped);
        AssertDropped("shutdown", 1);
    }

    [Fact]
    public async Task EnqueueAsync_ManyFramesWithDropsFailuresAndShutdown_EveryFrameCompletedExactlyOnce()
    {
        const int Count = 300;
        var dispatcher = Dispatcher(QueueFullMode.DropOldest, capacity: 4, "throw", "record");

        for (var sequence = 1L; sequence <= Count; sequence++)
        {
            if (sequence % 50 == 0)
            {
                dispatcher.Lose(Frame(sequence));
                continue;
            }

            await dispatcher.EnqueueAsync(Frame(sequence));
        }

        await dispatcher.CompleteAsync(s_waitLimit);

        var outcomes = _completion.Outcomes;
        Assert.Equal(Count, outcomes.Count);
        Assert.Equal(Enumerable.Range(1, Count).Select(i => (long)i), outcomes.Select(o => o.Token).Order());
        Assert.All(outcomes.Where(o => o.Token % 50 == 0), o => Assert.Equal(FrameOutcome.Lost, o.Outcome));
        Assert.All(outcomes.Where(o => o.Token % 10 == 3), o => Assert.NotEqual(FrameOutcome.Handled, o.Outcome));
        Assert.Equal(Count, _status.FramesHandled + _status.FramesDropped);
        Assert.Equal(outcomes.Count(o => o.Outcome == FrameOutcome.Handled || o.Outcome == FrameOutcome.HandlerFailed), _status.FramesHandled);
        AssertAllBuffersReturned();
    }

    private void AssertDropped(string reason, long count)
        => Assert.Equal(count, _dropped.GetMeasurementSnapshot()
            .Where(m => Equals(m.Tags[GatewayMetrics.ReasonTag], reason) && Equals(m.Tags[GatewayMetrics.SocketTag], Socket))
            .Sum(m => m.Value));

    private sealed class RecordingCompletion : IFrameCompletion
    {
        private readonly ConcurrentQueue<(long Token, FrameOutcome Outcome)> _outcomes = new();

        public List<(long Token, FrameOutcome Outcome)> Outcomes => [.. _outcomes];

        public void Complete(long token, FrameOutcome outcome) => _outcomes.Enqueue((token, outcome));

        public FrameOutcome[] For(params long[] tokens) => [.. tokens.Select(t => Assert.Single(Outcomes, o => o.Token == t).Outcome)];
    }
}

internal sealed record SeenFrame(string Socket, long Sequence, FrameKind Kind, byte[] Payload);

/// <summary>Records a copy of every frame.</summary>
internal sealed class RecordingHandler : IFrameHandler
{
    private readonly ConcurrentQueue<SeenFrame> _frames = new();

    public List<SeenFrame> Frames => [.. _frames];

    public List<string> Texts => [.. _frames.Select(f => System.Text.Encoding.UTF8.GetString(f.Payload))];

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        _frames.Enqueue(new SeenFrame(frame.SocketName, frame.Sequence, frame.Kind, frame.Payload.ToArray()));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Throws on frames whose sequence ends in 1 or 3 (after looking at the payload).</summary>
internal sealed class ThrowingHandler : IFrameHandler
{
    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
        => frame.Sequence % 10 is 1 or 3 && frame.Payload.Length > 0
            ? throw new InvalidOperationException($"boom {frame.Sequence}")
            : ValueTask.CompletedTask;
}

/// <summary>Holds every frame until <see cref="Open"/>; honours cancellation.</summary>
internal sealed class GateHandler : IFrameHandler
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<long> _sequences = new();

    /// <summary>Completes when the first frame that waits is in the handler.</summary>
    public Task Entered => _entered.Task;

    public List<long> Sequences => [.. _sequences];

    /// <summary>When set, only this frame waits; the others complete at once (without an await).</summary>
    public long? OnlyFrame { get; set; }

    public void Open() => _open.TrySetResult();

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        _sequences.Enqueue(frame.Sequence);
        if (OnlyFrame is { } only && frame.Sequence != only)
        {
            return ValueTask.CompletedTask;
        }

        _entered.TrySetResult();
        return new ValueTask(_open.Task.WaitAsync(cancellationToken));
    }
}
