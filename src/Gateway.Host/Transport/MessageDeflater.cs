using System.Buffers;
using System.IO.Compression;

namespace Gateway.Host.Transport;

/// <summary>
/// Compresses outgoing messages for permessage-deflate (RFC 7692): each piece is deflated into a pooled
/// buffer, the end of a message is a sync flush without its 0x00 0x00 0xFF 0xFF tail. One per connection: the
/// window carries over from message to message (context takeover) unless the server asked for
/// client_no_context_takeover. The zlib state (~256 KiB, zlib's default memory level) is created with the
/// first compressed send; the output buffer goes back to the pool with each frame.
/// </summary>
internal sealed class MessageDeflater(bool noContextTakeover) : IDisposable
{
    private static readonly ZLibCompressionOptions s_options = new() { CompressionLevel = 6, CompressionStrategy = ZLibCompressionStrategy.Default };

    private readonly Sink _sink = new();
    private DeflateStream? _deflater;

    // Some piece of the message in progress had bytes (the deflater flushes nothing for a message without any).
    private bool _messageHasBytes;

    /// <summary>
    /// Deflates <paramref name="payload"/> (the next piece of a message); at <paramref name="endOfMessage"/> flushes
    /// and drops the tail. Returns a pooled buffer (give it to <see cref="Return"/>) holding <paramref name="length"/> bytes.
    /// </summary>
    public byte[] Compress(ReadOnlySpan<byte> payload, bool endOfMessage, out int length)
    {
        _deflater ??= new DeflateStream(_sink, s_options, leaveOpen: true);
        _sink.Start(payload.Length / 2 + 64);
        try
        {
            _deflater.Write(payload);
            _messageHasBytes |= !payload.IsEmpty;
            if (endOfMessage && !_messageHasBytes)
            {
                // An empty message: the header of an empty stored block, which the receiver's tail completes (RFC 7692 7.2.3.6).
                _sink.Write([0x00]);
            }
            else if (endOfMessage)
            {
                // A sync flush ends with an empty stored block, 0x00 0x00 0xFF 0xFF, which the receiver adds back.
                _deflater.Flush();
                _sink.Count -= 4;
            }

            length = _sink.Count;
            var output = _sink.Take();
            if (endOfMessage)
            {
                _messageHasBytes = false;
                if (noContextTakeover)
                {
                    Reset();
                }
            }

            return output;
        }
        catch
        {
            _sink.Drop();
            throw;
        }
    }

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    public void Dispose() => Reset();

    private void Reset()
    {
        _deflater?.Dispose();
        _deflater = null;
    }

    /// <summary>A write-only stream into a pooled buffer that grows as needed.</summary>
    private sealed class Sink : Stream
    {
        private byte[]? _buffer;

        public int Count { get; set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Start(int sizeHint)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(sizeHint);
            Count = 0;
        }

        public byte[] Take()
        {
            var buffer = _buffer!;
            _buffer = null;
            return buffer;
        }

        public void Drop()
        {
            if (_buffer is { } buffer)
            {
                _buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_buffer is null)
            {
                // Disposing the deflater (no context takeover) may write nothing more we need; keep it out.
                return;
            }

            if (Count + buffer.Length > _buffer.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Count + buffer.Length));
                _buffer.AsSpan(0, Count).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            buffer.CopyTo(_buffer.AsSpan(Count));
            Count += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
