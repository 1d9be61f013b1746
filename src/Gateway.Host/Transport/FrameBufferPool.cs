namespace Gateway.Host.Transport;

/// <summary>
/// One socket's receive buffers. A buffer travels only from the socket's receive loop to its
/// dispatcher and back, so a small per-socket free list serves every frame in steady state without
/// allocating, however many sockets there are (a shared pool runs dry when many queues are full).
/// </summary>
/// <remarks>
/// Sizes are powers of two from 256 B to 4 MiB; larger buffers are allocated and left to the GC.
/// At most <c>maxRetainedPerSize</c> buffers of a size are kept (enough for a full queue), and
/// <see cref="Trim"/> lets them go when the socket is idle. Thread-safe.
/// </remarks>
internal sealed class FrameBufferPool(int maxRetainedPerSize) : System.Buffers.ArrayPool<byte>
{
    private const int MinShift = 8;
    private const int MaxShift = 22;

    // Locks itself (every socket has a pool: a Lock object each would be 40 B more per socket).
    // One free list per size, made by the first return (an idle socket's pool holds none).
    private Stack<byte[]>?[]? _free;
    private int _retained;

    /// <summary>Buffers currently kept for reuse.</summary>
    public int Retained => Volatile.Read(ref _retained);

    public override byte[] Rent(int minimumLength)
    {
        var shift = Shift(minimumLength);
        if (shift > MaxShift)
        {
            return GC.AllocateUninitializedArray<byte>(minimumLength);
        }

        lock (this)
        {
            if (_free?[shift - MinShift] is { Count: > 0 } free)
            {
                _retained--;
                return free.Pop();
            }
        }

        return GC.AllocateUninitializedArray<byte>(1 << shift);
    }

    public override void Return(byte[] array, bool clearArray = false)
    {
        var buffer = array;
        var length = buffer.Length;
        if (length < 1 << MinShift || length > 1 << MaxShift || (length & (length - 1)) != 0)
        {
            return; // not one of ours
        }

        lock (this)
        {
            _free ??= new Stack<byte[]>?[MaxShift - MinShift + 1];
            var free = _free[Shift(length) - MinShift] ??= new Stack<byte[]>();
            if (free.Count < maxRetainedPerSize)
            {
                free.Push(buffer);
                _retained++;
            }
        }
    }

    /// <summary>Lets every kept buffer go (called when the socket has been idle).</summary>
    public void Trim()
    {
        lock (this)
        {
            _free = null;
            _retained = 0;
        }
    }

    private static int Shift(int length) => length <= 1 << MinShift ? MinShift : 32 - int.LeadingZeroCount(length - 1);
}
