using System.Buffers;

namespace Gateway.Host.Transport;

/// <summary>
/// The gateway's own pool for receive buffers. Buffers are rented on a socket's receive loop and
/// returned by its dispatcher, on another thread, so the thread-local <see cref="ArrayPool{T}.Shared"/>
/// would trap them; this pool is shared across threads.
/// </summary>
internal sealed class GatewayBufferPool
{
    /// <summary>Larger buffers are allocated and left to the GC.</summary>
    public const int MaxPooledSize = 4 * 1024 * 1024;

    // Enough slots per size for several full queues of in-flight frames.
    private readonly ArrayPool<byte> _pool = ArrayPool<byte>.Create(MaxPooledSize, maxArraysPerBucket: 4096);

    public byte[] Rent(int minimumLength) => _pool.Rent(minimumLength);

    public void Return(byte[] buffer) => _pool.Return(buffer);
}
