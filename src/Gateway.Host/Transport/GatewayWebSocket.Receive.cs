using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace Gateway.Host.Transport;

internal sealed partial class GatewayWebSocket
{
    // Holds headers, control payloads and the small payloads read ahead; rented only while bytes are in it.
    private const int ReceiveBufferSize = 16 * 1024;

    // Missing payload bytes up to this many are read through the receive buffer (picking up the frames behind
    // them in the same read); more are read straight into the caller's buffer.
    private const int DirectReadMin = ReceiveBufferSize / 2;

    private const int MaxControlPayload = 125;

    // What a sync flush ends with; the sender drops it from every compressed message, the receiver adds it back.
    private static readonly byte[] s_deflateTail = [0x00, 0x00, 0xFF, 0xFF];

    private readonly SemaphoreSlim _receiveLock = new(1, 1);

    private byte[]? _receiveBuffer;

    // Set once whole messages were handed off as slices of _receiveBuffer (TakeMessages): the socket's reference.
    private SharedBuffer? _receiveShared;

    // Where receive buffers come from and go back to: the socket's pool once the batch path names it.
    private ArrayPool<byte> _receivePool = ArrayPool<byte>.Shared;
    private int _receiveOffset;
    private int _receiveCount;

    // The data frame being delivered: its header is consumed, _frameRemaining payload bytes are not.
    private bool _inDataFrame;
    private bool _frameFin;
    private long _frameRemaining;

    // The last data frame had no FIN: the next data frame must be a continuation.
    private bool _messageInProgress;
    private WebSocketMessageType _messageType;
    private Utf8Validator _utf8;

    // permessage-deflate: the message in progress is compressed (RSV1 on its first frame), and how much of the
    // 0x00 0x00 0xFF 0xFF tail its inflater has still to take after its last frame.
    private bool _messageCompressed;
    private int _tailLeft = s_deflateTail.Length;

    private enum Opcode : byte
    {
        Continuation = 0x0,
        Text = 0x1,
        Binary = 0x2,
        Close = 0x8,
        Ping = 0x9,
        Pong = 0xA,
    }

    /// <summary>Whether a receive buffer is rented (bytes are buffered or a read into it is pending); for tests.</summary>
    internal bool HoldsReceiveBuffer => _receiveBuffer is not null;

    public override ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
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
            return ValueTask.FromException<ValueWebSocketReceiveResult>(e);
        }

        return ReceiveLockedAsync(buffer, cancellationToken);
    }

    public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
    {
        var result = await ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
        return new WebSocketReceiveResult(result.Count, result.MessageType, result.EndOfMessage, _closeStatus, _closeStatusDescription);
    }

    /// <summary>
    /// Delivers the next piece of a text or binary message (or the server's close), handling pings and pongs on
    /// the way. Fills <paramref name="destination"/> up to the end of the frame, as the platform's socket does, so
    /// both return the same pieces. The caller holds <see cref="_receiveLock"/>; this releases it.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ValueWebSocketReceiveResult> ReceiveLockedAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var registration = cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(s_abort, this) : default;
        try
        {
            while (true)
            {
                if (!_inDataFrame)
                {
                    if (_receiveCount < 2)
                    {
                        if (_receiveCount == 0 && destination.IsEmpty)
                        {
                            // Park without a buffer until the server sends something.
                            await _stream.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                        }

                        await FillAsync(2, inFrame: false, cancellationToken).ConfigureAwait(false);
                    }

                    var headerLength = HeaderLength(_receiveBuffer![_receiveOffset + 1]);
                    if (_receiveCount < headerLength)
                    {
                        await FillAsync(headerLength, inFrame: false, cancellationToken).ConfigureAwait(false);
                    }

                    var header = _receiveBuffer![_receiveOffset];
                    var payloadLength = PayloadLength(_receiveBuffer.AsSpan(_receiveOffset + 1, headerLength - 1));
                    if (FrameError(header, _receiveBuffer[_receiveOffset + 1], payloadLength) is { } error)
                    {
                        await FailAsync(WebSocketCloseStatus.ProtocolError, error).ConfigureAwait(false);
                    }

                    Consume(headerLength);
                    var opcode = (Opcode)(header & 0x0F);
                    if (opcode >= Opcode.Close)
                    {
                        var length = (int)payloadLength;
                        if (opcode == Opcode.Close && length == 1)
                        {
                            await FailAsync(WebSocketCloseStatus.ProtocolError, "server sent a close frame with a 1-byte payload").ConfigureAwait(false);
                        }

                        if (_receiveCount < length)
                        {
                            await FillAsync(length, inFrame: true, cancellationToken).ConfigureAwait(false);
                        }

                        if (opcode == Opcode.Close)
                        {
                            await ReceiveCloseAsync(length).ConfigureAwait(false);
                            return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
                        }

                        if (opcode == Opcode.Ping)
                        {
                            await SendFrameAsync(Opcode.Pong, fin: true, _receiveBuffer.AsMemory(_receiveOffset, length), CancellationToken.None).ConfigureAwait(false);
                        }
                        else
                        {
                            _pingOutstanding = false;
                        }

                        Consume(length);
                        continue;
                    }

                    if (opcode != Opcode.Continuation)
                    {
                        _messageType = opcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                        _messageCompressed = (header & 0x40) != 0;
                    }

                    _frameFin = (header & 0x80) != 0;
                    _messageInProgress = !_frameFin;
                    _frameRemaining = payloadLength;
                    _inDataFrame = true;
                }

                if (_messageCompressed)
                {
                    if (destination.IsEmpty)
                    {
                        return new ValueWebSocketReceiveResult(0, _messageType, endOfMessage: false);
                    }

                    var between = _frameRemaining == 0 && !_frameFin;
                    var tail = _frameRemaining == 0 && _frameFin;
                    if (_frameRemaining > 0 && _receiveCount == 0)
                    {
                        await FillAsync(1, inFrame: true, cancellationToken).ConfigureAwait(false);
                    }

                    var input = between ? default
                        : tail ? s_deflateTail.AsMemory(s_deflateTail.Length - _tailLeft)
                        : _receiveBuffer.AsMemory(_receiveOffset, (int)Math.Min(_receiveCount, _frameRemaining));
                    int produced, consumed;
                    try
                    {
                        produced = _inflater!.Inflate(input, destination.Span, out consumed);
                    }
                    catch (InvalidDataException)
                    {
                        await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "server sent a compressed message that does not inflate").ConfigureAwait(false);
                        throw;
                    }

                    if (tail)
                    {
                        _tailLeft -= consumed;
                    }
                    else if (consumed > 0)
                    {
                        Consume(consumed);
                        _frameRemaining -= consumed;
                    }

                    if (produced == 0)
                    {
                        if (between)
                        {
                            // Everything of this frame has come out: the next frame continues the message.
                            _inDataFrame = false;
                            continue;
                        }

                        if (consumed == 0 && !input.IsEmpty)
                        {
                            // The server ended its deflate stream (a final block): what follows starts a new one.
                            _inflater.Reset();
                            continue;
                        }
                    }

                    // All input, the tail too, is in and the inflater did not fill the buffer: nothing is left to come out.
                    var lastPiece = tail && _tailLeft == 0 && produced < destination.Length;
                    if (produced == 0 && !lastPiece)
                    {
                        continue;
                    }

                    if (lastPiece)
                    {
                        _inDataFrame = false;
                        _tailLeft = s_deflateTail.Length;
                        if (_deflate!.ServerNoContextTakeover)
                        {
                            _inflater.Reset();
                        }
                    }

                    if (_messageType == WebSocketMessageType.Text && !_utf8.Validate(destination.Span[..produced], lastPiece))
                    {
                        await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "invalid UTF-8 in a text message").ConfigureAwait(false);
                    }

                    return new ValueWebSocketReceiveResult(produced, _messageType, lastPiece);
                }

                if (_frameRemaining == 0 || destination.IsEmpty)
                {
                    var endOfMessage = false;
                    if (_frameRemaining == 0)
                    {
                        _inDataFrame = false;
                        endOfMessage = _frameFin;
                        if (endOfMessage && _messageType == WebSocketMessageType.Text && !_utf8.Validate([], endOfMessage: true))
                        {
                            await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "invalid UTF-8 in a text message").ConfigureAwait(false);
                        }
                    }

                    return new ValueWebSocketReceiveResult(0, _messageType, endOfMessage);
                }

                var count = (int)Math.Min(destination.Length, _frameRemaining);
                var copied = 0;
                if (_receiveCount > 0)
                {
                    copied = Math.Min(count, _receiveCount);
                    _receiveBuffer.AsSpan(_receiveOffset, copied).CopyTo(destination.Span);
                    Consume(copied);
                }

                if (copied < count)
                {
                    var missing = count - copied;
                    if (missing < DirectReadMin)
                    {
                        await FillAsync(missing, inFrame: true, cancellationToken).ConfigureAwait(false);
                        _receiveBuffer.AsSpan(_receiveOffset, missing).CopyTo(destination.Span[copied..]);
                        Consume(missing);
                    }
                    else
                    {
                        while (copied < count)
                        {
                            var read = await _stream.ReadAsync(destination[copied..count], cancellationToken).ConfigureAwait(false);
                            if (read == 0)
                            {
                                throw EndOfStream(inFrame: true);
                            }

                            copied += read;
                        }
                    }
                }

                _frameRemaining -= count;
                var end = _frameRemaining == 0;
                _inDataFrame = !end;
                var eom = end && _frameFin;
                if (_messageType == WebSocketMessageType.Text && !_utf8.Validate(destination.Span[..count], eom))
                {
                    await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "invalid UTF-8 in a text message").ConfigureAwait(false);
                }

                return new ValueWebSocketReceiveResult(count, _messageType, eom);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw ReceiveFailed(e, cancellationToken);
        }
        catch
        {
            DropReceiveBuffer();
            throw;
        }
        finally
        {
            registration.Dispose();
            EndReceive();
        }
    }

    /// <summary>A receive failed: drops the buffered bytes and marks the socket aborted; returns what to throw.</summary>
    private Exception ReceiveFailed(Exception e, CancellationToken cancellationToken)
    {
        DropReceiveBuffer();
        if (_state == WebSocketState.Aborted)
        {
            return AbortedException(e, cancellationToken);
        }

        MarkAborted();
        return e is WebSocketException ? e : new WebSocketException(WebSocketError.ConnectionClosedPrematurely, e);
    }

    /// <summary>The end of a receive: frees the inflater if the socket was disposed meanwhile, and lets the next receive in.</summary>
    private void EndReceive()
    {
        if (_disposed)
        {
            _inflater?.Dispose();
        }

        _receiveLock.Release();
    }

    /// <summary>Validates the server's close frame (already buffered) and records it.</summary>
    private async ValueTask ReceiveCloseAsync(int length)
    {
        var status = WebSocketCloseStatus.NormalClosure;
        var description = string.Empty;
        if (length >= 2)
        {
            var payload = _receiveBuffer.AsSpan(_receiveOffset, length);
            var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
            if (!IsValidCloseCode(code))
            {
                await FailAsync(WebSocketCloseStatus.ProtocolError, $"server sent close code {code} (invalid)").ConfigureAwait(false);
            }

            if (!Utf8.IsValid(_receiveBuffer.AsSpan(_receiveOffset + 2, length - 2)))
            {
                await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "invalid UTF-8 in the close reason").ConfigureAwait(false);
            }

            status = (WebSocketCloseStatus)code;
            description = length > 2 ? Encoding.UTF8.GetString(_receiveBuffer.AsSpan(_receiveOffset + 2, length - 2)) : string.Empty;
        }

        Consume(length);
        OnCloseReceived(status, description);
    }

    /// <summary>
    /// Sends the close frame for a protocol violation (unless ours already went out) and throws. The caller's
    /// catch marks the socket aborted.
    /// </summary>
    private async ValueTask FailAsync(WebSocketCloseStatus status, string what)
    {
        bool alreadyClosing;
        WebSocketCloseStatus sent;
        lock (_stateLock)
        {
            alreadyClosing = _closeStarted;
            sent = _sentCloseStatus;
        }

        if (alreadyClosing)
        {
            throw GatewayWebSocketException.Throwable($"{what}; gateway had already closed with {(int)sent}", sent);
        }

        try
        {
            await SendCloseFrameAsync(status, string.Empty, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            throw GatewayWebSocketException.Throwable($"{what}; gateway could not send its close frame ({(int)status})", WebSocketCloseStatus.Empty);
        }

        throw GatewayWebSocketException.Throwable($"{what}; gateway closed with {(int)status}", status);
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered (count fits the buffer).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(int count, bool inFrame, CancellationToken cancellationToken)
    {
        MakeRoom(count, ReceiveBufferSize);
        while (_receiveCount < count)
        {
            var read = await _stream.ReadAsync(_receiveBuffer.AsMemory(_receiveOffset + _receiveCount), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw EndOfStream(inFrame || _receiveCount > 0);
            }

            _receiveCount += read;
        }
    }

    private WebSocketException EndOfStream(bool inFrame)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new WebSocketException(
            WebSocketError.ConnectionClosedPrematurely,
            inFrame ? "connection closed by the server without a close frame, in the middle of a frame" : "connection closed by the server without a close frame");
    }

    /// <summary>Drops consumed bytes; the buffer goes back to the pool as soon as it is empty.</summary>
    private void Consume(int count)
    {
        _receiveOffset += count;
        _receiveCount -= count;
        if (_receiveCount == 0)
        {
            ReturnReceiveBuffer();
        }
    }

    private void DropReceiveBuffer()
    {
        _receiveCount = 0;
        ReturnReceiveBuffer();
    }

    private void ReturnReceiveBuffer()
    {
        if (_receiveBuffer is { } buffer)
        {
            _receiveBuffer = null;
            _receiveOffset = 0;
            _receiveCount = 0;
            if (_receiveShared is { } shared)
            {
                // Frames handed off from it may still be in use: they return it.
                _receiveShared = null;
                shared.Release();
            }
            else
            {
                _receivePool.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Makes sure <paramref name="count"/> bytes from the read position fit the receive buffer: rents one of
    /// <paramref name="size"/> bytes (or more) if there is none, moves the buffered bytes to the front, or to a
    /// buffer of their own when frames handed off from this one may still be read.
    /// </summary>
    private void MakeRoom(int count, int size)
    {
        if (_receiveBuffer is null)
        {
            _receiveBuffer = _receivePool.Rent(Math.Max(count, size));
            _receiveOffset = 0;
            return;
        }

        if (_receiveOffset + count <= _receiveBuffer.Length)
        {
            return;
        }

        if (_receiveShared is { } shared)
        {
            var moved = _receivePool.Rent(Math.Max(count, size));
            _receiveBuffer.AsSpan(_receiveOffset, _receiveCount).CopyTo(moved);
            _receiveShared = null;
            shared.Release();
            _receiveBuffer = moved;
        }
        else
        {
            _receiveBuffer.AsSpan(_receiveOffset, _receiveCount).CopyTo(_receiveBuffer);
        }

        _receiveOffset = 0;
    }

    /// <summary>2, 4 or 10 bytes from the second header byte (a server frame has no mask key; a masked one is rejected).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int HeaderLength(byte second) => (second & 0x7F) switch
    {
        126 => 4,
        127 => 10,
        _ => 2,
    };

    /// <summary>The payload length from the header bytes after the first (negative: the top bit of a 64-bit length was set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long PayloadLength(ReadOnlySpan<byte> header) => (header[0] & 0x7F) switch
    {
        126 => BinaryPrimitives.ReadUInt16BigEndian(header[1..]),
        127 => BinaryPrimitives.ReadInt64BigEndian(header[1..]),
        var length => length,
    };

    /// <summary>What is wrong with a frame header, or null; in the order the platform's socket checks.</summary>
    private string? FrameError(byte first, byte second, long payloadLength)
    {
        // RSV1 marks a compressed message, on its first frame only, once permessage-deflate is negotiated.
        if ((first & 0x70) != 0 && !((first & 0x70) == 0x40 && _inflater is not null && (Opcode)(first & 0x0F) is Opcode.Text or Opcode.Binary))
        {
            return ReservedBitsError(first);
        }

        if (payloadLength < 0)
        {
            return "server sent a 64-bit payload length with the top bit set";
        }

        if ((second & 0x80) != 0)
        {
            return "server sent a masked frame";
        }

        var fin = (first & 0x80) != 0;
        switch ((Opcode)(first & 0x0F))
        {
            case Opcode.Continuation:
                return _messageInProgress ? null : "server sent a continuation frame with no message to continue";
            case Opcode.Text:
                return _messageInProgress ? "server started a new text message inside a fragmented one" : null;
            case Opcode.Binary:
                return _messageInProgress ? "server started a new binary message inside a fragmented one" : null;
            case Opcode.Close:
            case Opcode.Ping:
            case Opcode.Pong:
                var name = (Opcode)(first & 0x0F) switch
                {
                    Opcode.Close => "close",
                    Opcode.Ping => "ping",
                    _ => "pong",
                };
                if (payloadLength > MaxControlPayload)
                {
                    return $"server sent a {payloadLength}-byte {name} frame (control frames are at most 125 bytes)";
                }

                return fin ? null : $"server sent a fragmented {name} frame";
            default:
                return $"server sent unknown opcode 0x{first & 0x0F:X}";
        }
    }

    private static string ReservedBitsError(byte first)
    {
        var bits = new List<string>(3);
        for (var bit = 1; bit <= 3; bit++)
        {
            if ((first & (0x80 >> bit)) != 0)
            {
                bits.Add($"RSV{bit}");
            }
        }

        return $"server set reserved bits ({string.Join(", ", bits)})";
    }

    /// <summary>RFC 6455 7.4, as the platform checks it: 1000-1003, 1007-1011, 1012-1014 and 3000-4999.</summary>
    private static bool IsValidCloseCode(int code) => code switch
    {
        >= 3000 and <= 4999 => true,
        >= 1000 and <= 1003 => true,
        >= 1007 and <= 1014 => true,
        _ => false,
    };
}
