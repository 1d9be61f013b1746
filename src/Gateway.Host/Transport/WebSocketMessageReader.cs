using System.Net.WebSockets;
using System.Runtime.CompilerServices;

namespace Gateway.Host.Transport;

/// <summary>What <see cref="WebSocketMessageReader.ReadAsync"/> found.</summary>
internal enum ReadOutcome : byte
{
    /// <summary>A whole message, in <see cref="ReadResult.Buffer"/>.</summary>
    Message,

    /// <summary>The peer's close frame (or its answer to ours).</summary>
    Close,

    /// <summary>The message is larger than the limit; nothing of it is kept.</summary>
    TooLarge,

    /// <summary>Whole messages in the <see cref="ReceiveBatch"/> given to <see cref="WebSocketMessageReader.ReadBatchAsync"/>.</summary>
    Batch,
}

/// <summary>One read: a message in a pooled buffer (the caller returns it), a close, or an oversize message.</summary>
internal readonly record struct ReadResult(ReadOutcome Outcome, byte[]? Buffer, int Count, FrameKind Kind);

/// <summary>
/// Reads whole WebSocket messages of one socket into buffers from its pool: no buffer is held while
/// idle (a zero-byte read parks), and while messages arrive back to back they are read straight into
/// a buffer of the last message's size, one call each.
/// </summary>
internal sealed class WebSocketMessageReader(FrameBufferPool pool, int maxMessageSize)
{
    private const int MinReceiveBuffer = 256;

    // Messages up to this size are read without parking first while they arrive back to back.
    private const int BurstReadMax = 16 * 1024;

    private readonly long _limit = maxMessageSize + 1L;
    private int _sizeHint = MinReceiveBuffer;
    private bool _inBurst;

    /// <summary>
    /// Reads the next messages: on the gateway's own socket, every whole message one read brought in, as slices
    /// of its receive buffer in <paramref name="batch"/> (<see cref="ReadOutcome.Batch"/>); otherwise, and for
    /// what the batch path leaves to the message path, one message as <see cref="ReadAsync"/> reads it.
    /// Takes no token: abort the socket to end it.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadResult> ReadBatchAsync(WebSocket socket, ReceiveBatch batch)
    {
        if (socket is GatewayWebSocket gateway)
        {
            gateway.ReceivePool = pool;
            while (!gateway.TakeMessages(batch, maxMessageSize))
            {
                if (gateway.NeedsMessagePath)
                {
                    return await ReadAsync(socket).ConfigureAwait(false);
                }

                // Parks first when nothing is buffered (unless the receive loop already waited for data itself).
                await gateway.ReadMoreAsync().ConfigureAwait(false);
            }

            return new ReadResult(ReadOutcome.Batch, null, batch.Count, default);
        }

        return await ReadAsync(socket).ConfigureAwait(false);
    }

    /// <summary>Reads the next message. Takes no token (a cancellable read costs a registration per call): abort the socket to end it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadResult> ReadAsync(WebSocket socket)
    {
        ValueWebSocketReceiveResult result;
        byte[] buffer;
        if (_inBurst && _sizeHint <= BurstReadMax)
        {
            // The previous message was already buffered when we asked for it, so this one most likely
            // is too: read it straight into a buffer (one call instead of two). If the burst ended
            // just now, this read holds one small buffer until the next message.
            buffer = pool.Rent(_sizeHint);
            var read = socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, _limit)), CancellationToken.None);
            _inBurst = read.IsCompletedSuccessfully;
            try
            {
                result = await read.ConfigureAwait(false);
            }
            catch
            {
                pool.Return(buffer);
                throw;
            }
        }
        else
        {
            // Park without a buffer until the next message starts (SignalR's WebSocketsTransport does the same).
            var park = socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
            _inBurst = park.IsCompletedSuccessfully;
            result = await park.ConfigureAwait(false);
            buffer = pool.Rent(result.EndOfMessage ? 1 : (int)Math.Min(_sizeHint, _limit));
        }

        if (result.MessageType == WebSocketMessageType.Close)
        {
            pool.Return(buffer);
            return new ReadResult(ReadOutcome.Close, null, 0, default);
        }

        var kind = result.MessageType == WebSocketMessageType.Text ? FrameKind.Text : FrameKind.Binary;
        var count = result.Count;
        try
        {
            while (!result.EndOfMessage)
            {
                if (count >= _limit)
                {
                    pool.Return(buffer);
                    return new ReadResult(ReadOutcome.TooLarge, null, count, kind);
                }

                if (count == buffer.Length)
                {
                    var larger = pool.Rent((int)Math.Min(buffer.Length * 2L, _limit));
                    buffer.AsSpan(0, count).CopyTo(larger);
                    pool.Return(buffer);
                    buffer = larger;
                }

                var window = (int)Math.Min(buffer.Length, _limit) - count;
                result = await socket.ReceiveAsync(buffer.AsMemory(count, window), CancellationToken.None).ConfigureAwait(false);
                count += result.Count;
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    pool.Return(buffer);
                    return new ReadResult(ReadOutcome.Close, null, 0, default);
                }
            }
        }
        catch
        {
            pool.Return(buffer);
            throw;
        }

        if (count >= _limit)
        {
            pool.Return(buffer);
            return new ReadResult(ReadOutcome.TooLarge, null, count, kind);
        }

        _sizeHint = Math.Max(count, MinReceiveBuffer);
        return new ReadResult(ReadOutcome.Message, buffer, count, kind);
    }
}
