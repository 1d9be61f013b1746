using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;

namespace Gateway.Host.Tests.Dispatch;

public sealed class FrameQueueTests
{
    private static readonly UpstreamConnection s_connection = new("s", 1, new Uri("ws://h/"), null, DateTimeOffset.UnixEpoch);

    private readonly List<long> _dropped = [];

    private static FrameEnvelope[] Frames(int from, int count)
        => [.. Enumerable.Range(from, count).Select(i => FrameEnvelope.ForFrame(s_connection, [], 0, 0, FrameKind.Text, i, DateTimeOffset.UnixEpoch, 0))];

    private FrameQueue Queue(int capacity, QueueFullMode mode) => new(capacity, mode, e => _dropped.Add(e.Sequence), synchronousReader: false);

    private static List<long> TakeAll(FrameQueue queue)
    {
        var taken = new List<long>();
        var chunk = new FrameEnvelope[64];
        for (int n; (n = queue.Take(chunk)) > 0;)
        {
            taken.AddRange(chunk.Take(n).Select(e => e.Sequence));
        }

        return taken;
    }

    [Fact]
    public void Write_WaitModeMoreThanFits_AcceptsWhatFitsInOrder()
    {
        var queue = Queue(4, QueueFullMode.Wait);

        Assert.Equal(4, queue.Write(Frames(1, 6)));
        Assert.False(queue.TryWrite(Frames(7, 1)[0]));

        Assert.Equal([1, 2, 3, 4], TakeAll(queue));
        Assert.Empty(_dropped);
    }

    [Fact]
    public void Write_DropOldestOverflow_EvictsTheOldestToTheCallback()
    {
        var queue = Queue(4, QueueFullMode.DropOldest);

        Assert.Equal(10, queue.Write(Frames(1, 10)));

        Assert.Equal([1, 2, 3, 4, 5, 6], _dropped);
        Assert.Equal([7, 8, 9, 10], TakeAll(queue));
    }

    [Fact]
    public void Write_DropNewestOverflow_DropsTheItemsBeingWritten()
    {
        var queue = Queue(4, QueueFullMode.DropNewest);

        Assert.Equal(6, queue.Write(Frames(1, 6)));
        Assert.True(queue.TryWrite(Frames(7, 1)[0]));

        Assert.Equal([5, 6, 7], _dropped);
        Assert.Equal([1, 2, 3, 4], TakeAll(queue));
    }

    [Fact]
    public void Take_LargeQueue_TakesAChunkAtATime()
    {
        var queue = Queue(1024, QueueFullMode.Wait);
        queue.Write(Frames(1, 200));

        var chunk = new FrameEnvelope[1024];

        Assert.Equal(64, queue.ChunkSize);
        Assert.Equal(64, queue.Take(chunk));
        Assert.Equal(136, queue.Count);
        Assert.Equal(1, Queue(16, QueueFullMode.Wait).ChunkSize);
    }

    [Fact]
    public void WriteAndTake_AcrossTheEndOfTheRing_CopyBothPartsInOrder()
    {
        var queue = Queue(64, QueueFullMode.Wait); // chunks of 4
        queue.Write(Frames(1, 12)); // the ring grows to 16 slots
        var chunk = new FrameEnvelope[16];
        Assert.Equal(1, queue.Take(chunk.AsSpan(0, 1)));
        for (var i = 0; i < 9; i++)
        {
            queue.Take(chunk.AsSpan(0, 1));
        }

        Assert.Equal(8, queue.Write(Frames(13, 8))); // 4 slots at the end of the ring, 4 at its start

        Assert.Equal(Enumerable.Range(11, 10).Select(i => (long)i), TakeAll(queue)); // taken from both parts too
    }

    [Fact]
    public void Write_PastTheInitialRingAfterItWrapped_GrowsAndKeepsTheOrder()
    {
        var queue = Queue(1024, QueueFullMode.Wait);
        queue.Write(Frames(1, 10));
        var chunk = new FrameEnvelope[64];
        for (var i = 0; i < 7; i++)
        {
            queue.Take(chunk.AsSpan(0, 1));
        }

        Assert.Equal(300, queue.Write(Frames(11, 300)));

        Assert.Equal(Enumerable.Range(8, 303).Select(i => (long)i), TakeAll(queue));
        queue.TrimIfEmpty();
        Assert.Equal(2, queue.Write(Frames(311, 2)));
        Assert.Equal([311, 312], TakeAll(queue));
    }

    [Fact]
    public async Task WaitToReadAsync_Empty_CompletesOnceABatchIsWritten()
    {
        var queue = Queue(16, QueueFullMode.Wait);

        var waiting = queue.WaitToReadAsync();
        Assert.False(waiting.IsCompleted);
        queue.Write(Frames(1, 3));

        Assert.True(await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal([1, 2, 3], TakeAll(queue));
    }

    [Fact]
    public async Task WaitToWriteAsync_Full_CompletesWhenTheReaderTakes()
    {
        var queue = Queue(2, QueueFullMode.Wait);
        queue.Write(Frames(1, 2));

        var waiting = queue.WaitToWriteAsync();
        Assert.False(waiting.IsCompleted);
        queue.Take(new FrameEnvelope[1]);

        Assert.True(await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.True(queue.TryWrite(Frames(3, 1)[0]));
        Assert.Equal([2, 3], TakeAll(queue));
    }

    [Fact]
    public async Task Complete_WritersAndReaderWaiting_WritersGetFalseReaderFalseOnceEmpty()
    {
        var queue = Queue(1, QueueFullMode.Wait);
        var reading = queue.WaitToReadAsync();
        queue.Write(Frames(1, 1));
        Assert.True(await reading);
        var writing = queue.WaitToWriteAsync();

        queue.Complete();

        Assert.False(await writing.AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(0, queue.Write(Frames(2, 1)));
        Assert.True(await queue.WaitToReadAsync()); // what was queued is still read
        Assert.Equal([1], TakeAll(queue));
        Assert.False(await queue.WaitToReadAsync());
    }
}
