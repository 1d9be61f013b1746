using System.IO.Compression;

namespace Gateway.Host.Transport;

/// <summary>
/// Inflates permessage-deflate messages (RFC 7692) piece by piece into the caller's buffer, so a message
/// never takes more memory than the caller gives it (the reader's <c>MaxMessageSize</c> bounds a zip bomb).
/// One per connection: the LZ77 window carries over from message to message (context takeover) until
/// <see cref="Reset"/>. The zlib state (a 32 KiB window) and an 8 KiB input buffer are created with the
/// first compressed message.
/// </summary>
internal sealed class MessageInflater : IDisposable
{
    private readonly Source _source = new();
    private DeflateStream? _inflater;

    /// <summary>
    /// Inflates what <paramref name="input"/> holds (the compressed bytes as they arrive, then the 0x00 0x00
    /// 0xFF 0xFF tail) into <paramref name="output"/>; <paramref name="consumed"/> bytes of the input were taken
    /// (they are held until inflated). Returns how many bytes were written; fewer than <paramref name="output"/>
    /// holds means everything taken so far has come out.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is not valid deflate.</exception>
    public int Inflate(ReadOnlyMemory<byte> input, Span<byte> output, out int consumed)
    {
        _inflater ??= new DeflateStream(_source, CompressionMode.Decompress, leaveOpen: true);
        _source.Input = input;
        try
        {
            return _inflater.Read(output);
        }
        finally
        {
            consumed = input.Length - _source.Input.Length;
            _source.Input = default;
        }
    }

    /// <summary>Forgets the window (server_no_context_takeover, or a final block), freeing the zlib state until the next message.</summary>
    public void Reset()
    {
        _inflater?.Dispose();
        _inflater = null;
    }

    public void Dispose() => Reset();

    /// <summary>Hands the inflater what the current call was given; nothing more until the next call.</summary>
    private sealed class Source : Stream
    {
        public ReadOnlyMemory<byte> Input { get; set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            var count = Math.Min(buffer.Length, Input.Length);
            Input.Span[..count].CopyTo(buffer);
            Input = Input[count..];
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
