using System.Buffers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace Gateway.Host.Transport;

/// <summary>
/// The batch path: every whole, unfragmented, uncompressed data message a read brought in is handed over at once,
/// as slices of the receive buffer (no copy). Anything else (a ping, a close, a fragment, a compressed or oversized
/// message, a protocol violation) is left buffered for <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>,
/// which handles it exactly as it would have without this path.
/// </summary>
internal sealed partial class GatewayWebSocket
{
    // While data flows, reads are this big, so a read brings in many small frames at once.
    private const int BatchReadSize = 64 * 1024;

    // A batch whose payload is at most 1/CompactBelow of the read buffer is copied out rather than shared.
    private const int CompactBelow = 8;

    // Room a read asks for beyond what is buffered, at least.
    private const int MinReadRoom = 4 * 1024;

    // What the next frame needs buffered (from its first byte) for TakeMessages to take it; 0: ReceiveAsync's turn.
    private int _batchNeed = 2;

    // WaitForDataAsync parked since the last read: ReadMoreAsync reads at once (no second zero-byte read).
    private bool _waitedForData;

    // Parks in a row that woke without data before ReadMoreAsync reads anyway.
    private const int MaxParks = 4;

    /// <summary>
    /// Takes every whole message buffered up to the first frame that needs the message path, consuming pongs on
    /// the way, into <paramref name="batch"/>. Returns false when it took none; then
    /// <see cref="NeedsMessagePath"/> says whether <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>
    /// must read the next frame, or <see cref="ReadMoreAsync"/> more bytes first.
    /// </summary>
    /// <param name="batch">An empty batch.</param>
    /// <param name="maxMessageSize">Larger messages go to the message path (which reports them too large).</param>
    public bool TakeMessages(ReceiveBatch batch, int maxMessageSize)
    {
        _batchNeed = 0;
        if (_inDataFrame || _messageInProgress || _state is not (WebSocketState.Open or WebSocketState.CloseSent) || !_receiveLock.Wait(0))
        {
            return false;
        }

        try
        {
            if (_receiveBuffer is not { } buffer)
            {
                _batchNeed = 2;
                return false;
            }

            var start = _receiveOffset;
            var position = start;
            var end = start + _receiveCount;
            var need = 0;
            var taken = 0;
            var takenBytes = 0;
            while (true)
            {
                var available = end - position;
                if (available < 2)
                {
                    need = 2;
                    break;
                }

                var first = buffer[position];
                var second = buffer[position + 1];
                if ((first & 0xF0) != 0x80 || (second & 0x80) != 0)
                {
                    // A fragment, reserved bits (a compressed message) or a mask: the message path.
                    break;
                }

                var headerLength = HeaderLength(second);
                if (available < headerLength)
                {
                    need = headerLength;
                    break;
                }

                var length = PayloadLength(buffer.AsSpan(position + 1, headerLength - 1));
                var opcode = (Opcode)(first & 0x0F);
                var isData = opcode is Opcode.Text or Opcode.Binary;
                if (length < 0 || length > (isData ? Math.Min(maxMessageSize, BatchReadSize - headerLength) : opcode == Opcode.Pong ? MaxControlPayload : -1))
                {
                    // Large (read straight into the message's buffer), too large, or a ping, a close, unknown.
                    break;
                }

                var frameLength = headerLength + (int)length;
                if (available < frameLength)
                {
                    need = frameLength;
                    break;
                }

                var payload = position + headerLength;
                if (opcode == Opcode.Text && !Utf8.IsValid(buffer.AsSpan(payload, (int)length)))
                {
                    break;
                }

                if (opcode == Opcode.Pong)
                {
                    _pingOutstanding = false;
                }
                else
                {
                    batch.Add(payload, (int)length, opcode == Opcode.Text ? FrameKind.Text : FrameKind.Binary);
                    taken++;
                    takenBytes += (int)length;
                }

                position += frameLength;
            }

            if (taken > 0 && takenBytes * CompactBelow <= buffer.Length)
            {
                // Little of the buffer is payload (a trickle, not a flood): the frames get a right-sized copy, so a
                // queue of them never pins a big read buffer each; the read buffer stays the socket's alone.
                var compact = _receivePool.Rent(Math.Max(takenBytes, 16));
                batch.MoveMessages(buffer, compact);
                batch.SetBuffer(SharedBuffer.Rent(compact, _receivePool));
            }
            else if (taken > 0)
            {
                var shared = _receiveShared ??= SharedBuffer.Rent(buffer, _receivePool);
                shared.AddReferences(1);
                batch.SetBuffer(shared);
            }

            if (position > start)
            {
                Consume(position - start);
            }

            _batchNeed = need;
            return taken > 0;
        }
        finally
        {
            _receiveLock.Release();
        }
    }

    /// <summary>
    /// The pool receive buffers come from (the socket's, which its dispatcher returns them to). Set before the first
    /// read, and only while no buffer is held; until then they come from <see cref="ArrayPool{T}.Shared"/>.
    /// </summary>
    public ArrayPool<byte> ReceivePool
    {
        set
        {
            if (_receiveBuffer is null)
            {
                _receivePool = value;
            }
        }
    }

    /// <summary>After <see cref="TakeMessages"/> took nothing: the next frame is for the message path.</summary>
    public bool NeedsMessagePath => _batchNeed == 0;

    /// <summary>
    /// Parks until the server sends something, if nothing is buffered: the stream's own zero-byte read, with no buffer
    /// and no state machine of the socket's (an idle socket's receive loop holds nothing more). Its failure is not
    /// reported here: the <see cref="ReadMoreAsync"/> that follows meets it again and reports it.
    /// </summary>
    public ValueTask<int> WaitForDataAsync()
    {
        if (_receiveCount > 0 || _waitedForData || _state is not (WebSocketState.Open or WebSocketState.CloseSent))
        {
            return ValueTask.FromResult(0);
        }

        _waitedForData = true;
        return _stream.ReadAsync(Memory<byte>.Empty, CancellationToken.None);
    }

    /// <summary>
    /// After a park: true when it woke with nothing to read. The runtime's zero-byte socket read sometimes completes
    /// without data (30-130 of 10,000 idle sockets did); the read after it would then wait holding a 64 KiB buffer.
    /// A plain TCP socket only (one <c>poll</c>); data, an end of stream or an error say false.
    /// </summary>
    private bool WokeWithoutData()
    {
        if (_stream is not NetworkStream { Socket: var socket })
        {
            return false;
        }

        try
        {
            return !socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false; // the read that follows meets it
        }
    }

    /// <summary>Nothing is buffered: the next <see cref="TakeMessages"/> needs a read first.</summary>
    public bool NothingBuffered => _receiveCount == 0;

    /// <summary>
    /// Reads more bytes for <see cref="TakeMessages"/>: parks on a zero-byte read (no buffer held) when nothing is
    /// buffered (unless <see cref="WaitForDataAsync"/> did), then reads as much as is there, up to
    /// <see cref="BatchReadSize"/>. Takes no token; abort ends it.
    /// </summary>
    public ValueTask ReadMoreAsync()
    {
        try
        {
            ThrowIfInvalidState(s_receiveStates);
            if (!_receiveLock.Wait(0, CancellationToken.None))
            {
                throw new InvalidOperationException("There is already one outstanding 'ReceiveAsync' call for this WebSocket; at most one receive and one send may run at the same time.");
            }
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }

        return ReadMoreLockedAsync();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadMoreLockedAsync()
    {
        try
        {
            if (_receiveCount == 0)
            {
                // Park without a buffer until the server sends something (unless WaitForDataAsync did); a wake-up
                // without data parks again, a few times at most (the read below then handles whatever it was).
                var parks = 0;
                if (!_waitedForData)
                {
                    await _stream.ReadAsync(Memory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                    parks++;
                }

                while (parks++ < MaxParks && WokeWithoutData())
                {
                    await _stream.ReadAsync(Memory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                }
            }

            _waitedForData = false;

            MakeRoom(Math.Max(_batchNeed, _receiveCount + MinReadRoom), BatchReadSize);
            var read = await _stream.ReadAsync(_receiveBuffer!.AsMemory(_receiveOffset + _receiveCount), CancellationToken.None).ConfigureAwait(false);
            if (read == 0)
            {
                throw EndOfStream(_receiveCount > 0);
            }

            _receiveCount += read;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw ReceiveFailed(e, CancellationToken.None);
        }
        catch
        {
            DropReceiveBuffer();
            throw;
        }
        finally
        {
            EndReceive();
        }
    }
}
