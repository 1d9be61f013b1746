using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Gateway.Host.Transport;

internal sealed partial class GatewayWebSocket
{
    // Payloads up to this size go out with their header in one write; bigger ones in chunks of this size.
    private const int MaxSingleWrite = 16 * 1024;
    private const int MaxHeaderLength = 14;
    private const int MaskKeyBatch = 64;

    // Mask keys are drawn from the CSPRNG a batch at a time; per thread, so no lock and no bytes per socket.
    [ThreadStatic]
    private static byte[]? t_maskKeys;

    [ThreadStatic]
    private static int t_maskKeyOffset;

    // Serialises every frame write: the caller's sends, pongs, keep-alive pings and the close frame.
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    // The last SendAsync had endOfMessage false: the next one continues its message.
    private bool _lastSendWasFragment;

    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        if (messageType is not (WebSocketMessageType.Text or WebSocketMessageType.Binary))
        {
            throw new ArgumentException("Only Text and Binary messages can be sent; use CloseOutputAsync or CloseAsync to close.", nameof(messageType));
        }

        try
        {
            ThrowIfInvalidState(s_sendStates);
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }

        var opcode = _lastSendWasFragment ? Opcode.Continuation : messageType == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary;
        _lastSendWasFragment = !endOfMessage;
        return _deflater is null
            ? SendFrameAsync(opcode, endOfMessage, buffer, cancellationToken)
            : SendCompressedAsync(opcode, endOfMessage, buffer, cancellationToken);
    }

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        => SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

    /// <summary>Deflates the next piece of a message into a pooled buffer and writes it; RSV1 marks a compressed message's first frame.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendCompressedAsync(Opcode opcode, bool fin, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        byte[] compressed;
        int length;
        lock (_deflaterLock)
        {
            if (_disposed)
            {
                // As an uncompressed send that finds the socket gone fails.
                var disposed = new ObjectDisposedException(nameof(GatewayWebSocket));
                throw _state == WebSocketState.Aborted ? AbortedException(disposed, cancellationToken) : new WebSocketException(WebSocketError.ConnectionClosedPrematurely, disposed);
            }

            compressed = _deflater!.Compress(payload.Span, fin, out length);
        }

        try
        {
            await SendFrameAsync(opcode, fin, compressed.AsMemory(0, length), cancellationToken, compressed: opcode != Opcode.Continuation).ConfigureAwait(false);
        }
        finally
        {
            MessageDeflater.Return(compressed);
        }
    }

    /// <summary>Writes one masked frame, after the frames already queued; the caller's payload is not touched.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendFrameAsync(Opcode opcode, bool fin, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken, bool compressed = false)
    {
        if (!_sendLock.Wait(0, CancellationToken.None))
        {
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        byte[]? buffer = null;
        var registration = cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(s_abort, this) : default;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var length = payload.Length;
            var mask = NextMaskKey();
            if (length <= MaxSingleWrite)
            {
                buffer = ArrayPool<byte>.Shared.Rent(length + MaxHeaderLength);
                var headerLength = WriteHeader(buffer, opcode, fin, compressed, length, mask);
                var body = buffer.AsSpan(headerLength, length);
                payload.Span.CopyTo(body);
                ApplyMask(body, mask);
                await _stream.WriteAsync(buffer.AsMemory(0, headerLength + length), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Every chunk but the last is a multiple of 4 bytes, so each starts at the first byte of the mask.
                buffer = ArrayPool<byte>.Shared.Rent(MaxSingleWrite);
                var position = WriteHeader(buffer, opcode, fin, compressed, length, mask);
                var sent = 0;
                while (sent < length)
                {
                    var chunk = Math.Min(length - sent, (buffer.Length - position) & ~3);
                    var body = buffer.AsSpan(position, chunk);
                    payload.Span.Slice(sent, chunk).CopyTo(body);
                    ApplyMask(body, mask);
                    await _stream.WriteAsync(buffer.AsMemory(0, position + chunk), cancellationToken).ConfigureAwait(false);
                    sent += chunk;
                    position = 0;
                }
            }

            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw _state == WebSocketState.Aborted
                ? AbortedException(e, cancellationToken)
                : new WebSocketException(WebSocketError.ConnectionClosedPrematurely, e);
        }
        finally
        {
            registration.Dispose();
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _sendLock.Release();
        }
    }

    /// <summary>The watchdog's ping: fire and forget; a broken connection surfaces in the receive loop.</summary>
    private async Task SendPingAsync()
    {
        try
        {
            await SendFrameAsync(Opcode.Ping, fin: true, ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
    }

    /// <summary>Writes FIN, RSV1 (a compressed message's first frame), opcode, the masked length and the mask key; returns the header length.</summary>
    private static int WriteHeader(byte[] buffer, Opcode opcode, bool fin, bool compressed, int length, uint mask)
    {
        buffer[0] = (byte)((fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | (int)opcode);
        int position;
        if (length <= 125)
        {
            buffer[1] = (byte)(0x80 | length);
            position = 2;
        }
        else if (length <= ushort.MaxValue)
        {
            buffer[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)length);
            position = 4;
        }
        else
        {
            buffer[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(buffer.AsSpan(2), (ulong)length);
            position = 10;
        }

        MemoryMarshal.Write(buffer.AsSpan(position), in mask);
        return position + 4;
    }

    /// <summary>A fresh 4-byte key (in memory order, as it goes on the wire).</summary>
    private static uint NextMaskKey()
    {
        var keys = t_maskKeys;
        var offset = t_maskKeyOffset;
        if (keys is null || offset >= MaskKeyBatch)
        {
            keys ??= t_maskKeys = new byte[MaskKeyBatch];
            RandomNumberGenerator.Fill(keys);
            offset = 0;
        }

        t_maskKeyOffset = offset + 4;
        return MemoryMarshal.Read<uint>(keys.AsSpan(offset));
    }

    /// <summary>XORs <paramref name="data"/> with the key repeated from its first byte, a vector at a time.</summary>
    internal static void ApplyMask(Span<byte> data, uint mask)
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        var length = (nuint)data.Length;
        nuint i = 0;
        if (Vector.IsHardwareAccelerated && length >= (nuint)Vector<byte>.Count)
        {
            var key = Vector.AsVectorByte(new Vector<uint>(mask));
            for (; i + (nuint)Vector<byte>.Count <= length; i += (nuint)Vector<byte>.Count)
            {
                (Vector.LoadUnsafe(ref start, i) ^ key).StoreUnsafe(ref start, i);
            }
        }

        var wide = ((ulong)mask << 32) | mask;
        for (; i + 8 <= length; i += 8)
        {
            ref var at = ref Unsafe.Add(ref start, i);
            Unsafe.WriteUnaligned(ref at, Unsafe.ReadUnaligned<ulong>(ref at) ^ wide);
        }

        var keyBytes = MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in mask));
        for (; i < length; i++)
        {
            Unsafe.Add(ref start, i) ^= keyBytes[(int)(i & 3)];
        }
    }
}
