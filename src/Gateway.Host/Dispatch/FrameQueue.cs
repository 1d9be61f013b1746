using System.Threading.Tasks.Sources;
using Gateway.Host.Configuration;

namespace Gateway.Host.Dispatch;

/// <summary>
/// A socket's bounded queue: a ring of envelopes under one lock, written a read's worth of frames at a time and
/// taken by the dispatcher a chunk at a time, so both sides pay the lock, and the dispatcher its wake-up, once per
/// batch instead of once per frame (a <c>System.Threading.Channels</c> channel costs both per item). The full modes
/// are the channel's: <see cref="QueueFullMode.Wait"/> accepts what fits and lets the writer wait for room,
/// <see cref="QueueFullMode.DropOldest"/> evicts the oldest queued item, <see cref="QueueFullMode.DropNewest"/>
/// drops the item being written; evicted and dropped items go to the drop callback, outside the lock.
/// </summary>
/// <remarks>
/// At most <c>capacity</c> items are queued; the dispatcher holds at most the chunk it took (1 for a capacity
/// below 32, at most 64) on top, as a channel's reader holds the one item it read. The ring grows with the queue
/// (an idle socket holds 4 slots, not its capacity). One reader; any number of writers.
/// </remarks>
internal sealed class FrameQueue : IValueTaskSource<bool>, Health.IDepth
{
    // The ring is made by the first write, this small, and doubles up to the capacity as frames pile up;
    // TrimIfEmpty lets it go again (an idle socket holds none).
    public const int InitialRing = 4;

    // Locks itself (every socket has a queue: a Lock object each would be 40 B more per socket).
    private readonly int _capacity;
    private readonly QueueFullMode _fullMode;
    private readonly Action<FrameEnvelope> _dropped;
    private FrameEnvelope[] _ring;
    private int _head;
    private int _count;
    private bool _completed;

    // The reader's wait: one reusable source (no allocation per wait).
    private ManualResetValueTaskSourceCore<bool> _reader;
    private bool _readerWaiting;

    // Writers waiting for room (Wait mode, queue full): rare, so a completion source each.
    private List<TaskCompletionSource<bool>>? _writers;

    /// <param name="capacity">Items the queue holds.</param>
    /// <param name="fullMode">What a write into a full queue does.</param>
    /// <param name="dropped">Told of every item a drop mode discards.</param>
    /// <param name="synchronousReader">Whether a write may run the waiting reader's continuation on its own thread.</param>
    public FrameQueue(int capacity, QueueFullMode fullMode, Action<FrameEnvelope> dropped, bool synchronousReader)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _ring = [];
        _fullMode = fullMode;
        _dropped = dropped;
        _reader.RunContinuationsAsynchronously = !synchronousReader;
        ChunkSize = Math.Clamp(capacity / 16, 1, 64);
    }

    /// <summary>How many items the reader takes at a time at most.</summary>
    public int ChunkSize { get; }

    /// <summary>Items queued (not those the reader took).</summary>
    public int Count => Volatile.Read(ref _count);

    int Health.IDepth.Depth => Count;

    /// <summary>One item; false only when it was refused: the queue is full (Wait) or completed.</summary>
    public bool TryWrite(in FrameEnvelope item) => Write(new ReadOnlySpan<FrameEnvelope>(in item)) == 1;

    /// <summary>
    /// Queues <paramref name="items"/> in order and wakes the reader once. Returns how many were accepted: all of
    /// them in the drop modes (some may have been dropped), as many as fit under Wait, none once completed.
    /// </summary>
    public int Write(ReadOnlySpan<FrameEnvelope> items)
    {
        var capacity = _capacity;
        var accepted = 0;
        var wakeReader = false;
        FrameEnvelope[]? evicted = null;
        var evictedCount = 0;
        lock (this)
        {
            if (_completed)
            {
                return 0;
            }

            // What fits without a full-queue decision is copied in at most two blocks: a block copy marks the GC's
            // cards once, where an item at a time pays a write barrier per reference.
            var fits = Math.Min(items.Length, capacity - _count);
            if (fits > 0)
            {
                if (_ring.Length - _count < fits)
                {
                    Grow(Math.Max(_count + fits, InitialRing));
                }

                var tail = Index(_head + _count);
                var first = Math.Min(fits, _ring.Length - tail);
                items[..first].CopyTo(_ring.AsSpan(tail));
                items[first..fits].CopyTo(_ring);
                _count += fits;
                accepted = fits;
            }

            for (; accepted < items.Length; accepted++)
            {
                if (_count == capacity)
                {
                    if (_fullMode == QueueFullMode.Wait)
                    {
                        break;
                    }

                    evicted ??= new FrameEnvelope[Math.Min(items.Length - accepted, capacity + 1)];
                    if (evictedCount == evicted.Length)
                    {
                        Array.Resize(ref evicted, evicted.Length * 2);
                    }

                    if (_fullMode == QueueFullMode.DropNewest)
                    {
                        evicted[evictedCount++] = items[accepted];
                        continue;
                    }

                    // DropOldest: the head makes room.
                    evicted[evictedCount++] = _ring[_head];
                    _ring[_head] = default;
                    _head = Next(_head);
                    _count--;
                }

                if (_count == _ring.Length)
                {
                    Grow(Math.Max(_count + 1, InitialRing));
                }

                _ring[Index(_head + _count)] = items[accepted];
                _count++;
            }

            if (_count > 0 && _readerWaiting)
            {
                _readerWaiting = false;
                wakeReader = true;
            }
        }

        for (var i = 0; i < evictedCount; i++)
        {
            _dropped(evicted![i]);
        }

        if (wakeReader)
        {
            _reader.SetResult(true);
        }

        return accepted;
    }

    /// <summary>Waits until there is room (true) or the queue is completed (false). For writers under Wait.</summary>
    public ValueTask<bool> WaitToWriteAsync()
    {
        lock (this)
        {
            if (_completed)
            {
                return ValueTask.FromResult(false);
            }

            if (_count < _capacity)
            {
                return ValueTask.FromResult(true);
            }

            var waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            (_writers ??= []).Add(waiter);
            return new ValueTask<bool>(waiter.Task);
        }
    }

    /// <summary>Moves up to <see cref="ChunkSize"/> items (at most <paramref name="into"/>'s length) out, oldest first; wakes writers waiting for room.</summary>
    public int Take(Span<FrameEnvelope> into)
    {
        List<TaskCompletionSource<bool>>? writers = null;
        int taken;
        lock (this)
        {
            taken = Math.Min(Math.Min(into.Length, ChunkSize), _count);
            if (taken > 0)
            {
                // In at most two blocks (see Write), and the slots cleared so the ring holds no frame it gave out.
                var first = Math.Min(taken, _ring.Length - _head);
                var front = _ring.AsSpan(_head, first);
                front.CopyTo(into);
                front.Clear();
                var wrapped = _ring.AsSpan(0, taken - first);
                wrapped.CopyTo(into[first..]);
                wrapped.Clear();
                _head = Index(_head + taken);
                _count -= taken;
            }

            if (taken > 0 && _writers is { Count: > 0 })
            {
                writers = _writers;
                _writers = null;
            }
        }

        if (writers is not null)
        {
            foreach (var writer in writers)
            {
                writer.TrySetResult(true);
            }
        }

        return taken;
    }

    /// <summary>Waits until an item is queued (true) or the queue is completed and empty (false). One reader.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (this)
        {
            if (_count > 0)
            {
                return ValueTask.FromResult(true);
            }

            if (_completed)
            {
                return ValueTask.FromResult(false);
            }

            _reader.Reset();
            _readerWaiting = true;
            return new ValueTask<bool>(this, _reader.Version);
        }
    }

    /// <summary>Refuses further writes; the reader sees false once the queue is empty, waiting writers at once.</summary>
    public void Complete()
    {
        List<TaskCompletionSource<bool>>? writers;
        var wakeReader = false;
        lock (this)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            writers = _writers;
            _writers = null;
            if (_readerWaiting)
            {
                _readerWaiting = false;
                wakeReader = true;
            }
        }

        if (writers is not null)
        {
            foreach (var writer in writers)
            {
                writer.TrySetResult(false);
            }
        }

        if (wakeReader)
        {
            _reader.SetResult(false);
        }
    }

    /// <summary>Lets the ring go while the queue is empty (the next write makes a small one); only if it is at most <paramref name="maxRing"/> long when given.</summary>
    public void TrimIfEmpty(int maxRing = int.MaxValue)
    {
        lock (this)
        {
            if (_count == 0 && _ring.Length <= maxRing)
            {
                _ring = [];
                _head = 0;
            }
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _reader.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _reader.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _reader.OnCompleted(continuation, state, token, flags);

    /// <summary>A larger ring (doubling, up to the capacity) with room for at least <paramref name="needed"/> items.</summary>
    private void Grow(int needed)
    {
        var length = Math.Max(_ring.Length * 2, 1);
        while (length < needed)
        {
            length *= 2;
        }

        var larger = new FrameEnvelope[Math.Min(length, _capacity)];
        for (var i = 0; i < _count; i++)
        {
            larger[i] = _ring[Index(_head + i)];
        }

        _ring = larger;
        _head = 0;
    }

    private int Next(int index) => index + 1 == _ring.Length ? 0 : index + 1;

    private int Index(int index) => index >= _ring.Length ? index - _ring.Length : index;
}
