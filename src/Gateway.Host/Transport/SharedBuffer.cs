using System.Buffers;

namespace Gateway.Host.Transport;

/// <summary>
/// A receive buffer shared by the frames read into it: the socket holds one reference while it still reads into
/// the buffer, a batch one while the receive loop turns its messages into frames, and every queued frame one. The
/// last release returns the array to the pool it came from (the socket's <see cref="FrameBufferPool"/>: a shared
/// pool runs dry when many sockets' queues hold buffers). Holders are reused (no allocation per read).
/// </summary>
internal sealed class SharedBuffer
{
    private const int MaxRetained = 1024;

    private static readonly Lock s_lock = new();
    private static readonly Stack<SharedBuffer> s_free = new();

    private byte[] _array = [];
    private ArrayPool<byte> _pool = ArrayPool<byte>.Shared;
    private int _references;

    /// <summary>The bytes; valid while the caller holds a reference.</summary>
    public byte[] Array => _array;

    /// <summary>Wraps <paramref name="array"/>, rented from <paramref name="pool"/> (the socket's), with one reference, the caller's.</summary>
    public static SharedBuffer Rent(byte[] array, ArrayPool<byte> pool)
    {
        SharedBuffer? holder = null;
        lock (s_lock)
        {
            s_free.TryPop(out holder);
        }

        holder ??= new SharedBuffer();
        holder._array = array;
        holder._pool = pool;
        holder._references = 1;
        return holder;
    }

    /// <summary>Adds <paramref name="count"/> references; the caller must hold one already.</summary>
    public void AddReferences(int count) => Interlocked.Add(ref _references, count);

    /// <summary>Drops <paramref name="count"/> references (one by default); the last one returns the array and the holder.</summary>
    public void Release(int count = 1)
    {
        var left = Interlocked.Add(ref _references, -count);
        if (left > 0)
        {
            return;
        }

        if (left < 0)
        {
            throw new InvalidOperationException("A shared receive buffer was released once too often.");
        }

        var array = _array;
        var pool = _pool;
        _array = [];
        _pool = ArrayPool<byte>.Shared;
        pool.Return(array);
        lock (s_lock)
        {
            if (s_free.Count < MaxRetained)
            {
                s_free.Push(this);
            }
        }
    }
}
