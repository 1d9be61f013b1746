using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Unicode;

namespace Gateway.Host.Protocols.Stomp;

/// <summary>
/// A streaming STOMP 1.2 parser for what a server sends. A WebSocket message may hold many frames
/// and a frame may span many messages: a frame entirely inside one chunk is handed out as a view of
/// the chunk (no copy, no allocation); only the unfinished frame at the end of a chunk is copied, into
/// a pooled buffer bounded by the maximum frame size. EOLs between frames are heart-beats, counted.
/// The first malformed byte fails the parser for good (the session closes with 1002).
/// </summary>
/// <remarks>Not thread-safe: one receive loop feeds it.</remarks>
internal sealed class StompParser : IDisposable
{
    private const byte Lf = (byte)'\n';
    private const byte Cr = (byte)'\r';
    private const byte Nul = 0;
    private const int ShownLength = 64;

    private readonly int _maxFrameSize;
    private readonly bool _acceptClientCommands;

    // The unfinished frame, from its command line on; _buffered == 0 when there is none.
    private byte[]? _buffer;
    private int _buffered;

    // A buffered frame was handed out: its view is valid until the next call.
    private bool _bufferHandedOut;

    // A CR between frames, waiting for its LF in the next chunk.
    private bool _pendingCr;
    private Scan _scan;
    private bool _disposed;

    /// <param name="maxFrameSize">The largest frame accepted, from the command to the NUL included.</param>
    /// <param name="acceptClientCommands">Also accept client frames (SEND, ACK, ...): for a server side or for tests; a client leaves it false.</param>
    public StompParser(int maxFrameSize, bool acceptClientCommands = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameSize, 1);
        _maxFrameSize = maxFrameSize;
        _acceptClientCommands = acceptClientCommands;
    }

    private enum Phase
    {
        Command,
        Headers,
        Body,
    }

    private enum ScanResult
    {
        NeedMore,
        Complete,
        Failed,
    }

    public int MaxFrameSize => _maxFrameSize;

    /// <summary>Why the stream is malformed, in words; null while it is not.</summary>
    public string? Error { get; private set; }

    /// <summary>Bytes of an unfinished frame (or a CR between frames) kept until more arrive.</summary>
    public int PendingBytes => _buffered + (_pendingCr ? 1 : 0);

    /// <summary>Starts on the next received chunk; the chunk must stay unchanged while the reader and its frames are used.</summary>
    public StompChunkReader Read(ReadOnlySpan<byte> chunk)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ReleaseHandedOut();
        return new StompChunkReader(this, chunk);
    }

    public void Dispose()
    {
        _disposed = true;
        _buffered = 0;
        ReturnBuffer();
    }

    internal StompReadStatus Next(ReadOnlySpan<byte> chunk, scoped ref int position, scoped ref int heartBeats, out StompFrameView frame)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        frame = default;
        ReleaseHandedOut();
        if (Error is not null)
        {
            return StompReadStatus.Error;
        }

        if (_buffered > 0)
        {
            return ContinueBuffered(chunk, ref position, out frame);
        }

        while (position < chunk.Length)
        {
            var b = chunk[position];
            if (_pendingCr)
            {
                if (b != Lf)
                {
                    Fail("malformed STOMP frame: carriage return not followed by line feed between frames");
                    return StompReadStatus.Error;
                }

                _pendingCr = false;
                heartBeats++;
                position++;
            }
            else if (b == Lf)
            {
                heartBeats++;
                position++;
            }
            else if (b == Cr)
            {
                _pendingCr = true;
                position++;
            }
            else
            {
                // A frame starts here: hand it out in place when it ends inside the chunk.
                var rest = chunk[position..];
                _scan = Scan.Start;
                switch (ScanFrame(rest, out var length))
                {
                    case ScanResult.Complete:
                        frame = View(rest[..(length - 1)], position);
                        position += length;
                        return StompReadStatus.Frame;
                    case ScanResult.Failed:
                        return StompReadStatus.Error;
                    default:
                        Append(rest);
                        position = chunk.Length;
                        return StompReadStatus.NeedMoreData;
                }
            }
        }

        return StompReadStatus.NeedMoreData;
    }

    // Feeds the buffered frame just the bytes it needs (through the next LF, the NUL, or the announced
    // body), so each byte is scanned once and the frames after it stay in the chunk.
    private StompReadStatus ContinueBuffered(ReadOnlySpan<byte> chunk, scoped ref int position, out StompFrameView frame)
    {
        frame = default;
        while (position < chunk.Length)
        {
            var rest = chunk[position..];
            var take = _scan.Phase != Phase.Body ? Through(rest.IndexOfAny(Lf, Nul), rest.Length)
                : _scan.ContentLength < 0 ? Through(rest.IndexOf(Nul), rest.Length)
                : Math.Min(rest.Length, _scan.BodyStart + _scan.ContentLength + 1 - _buffered);
            take = Math.Min(take, _maxFrameSize - _buffered);
            Debug.Assert(take > 0, "a frame waiting for more bytes is shorter than the maximum");
            Append(rest[..take]);
            position += take;

            var buffered = _buffer.AsSpan(0, _buffered);
            switch (ScanFrame(buffered, out var length))
            {
                case ScanResult.Complete:
                    Debug.Assert(length == _buffered, "the buffer was fed exactly through the NUL");
                    frame = View(buffered[..(length - 1)], -1);
                    _bufferHandedOut = true;
                    return StompReadStatus.Frame;
                case ScanResult.Failed:
                    return StompReadStatus.Error;
            }
        }

        return StompReadStatus.NeedMoreData;

        static int Through(int index, int length) => index < 0 ? length : index + 1;
    }

    // Scans the frame that starts at frame[0] from where the last call stopped. Complete gives the
    // length through the NUL. A frame is refused as soon as more than the maximum is known to be needed,
    // so the outcome never depends on how the stream was cut.
    private ScanResult ScanFrame(ReadOnlySpan<byte> frame, out int length)
    {
        length = 0;
        ref var s = ref _scan;
        var limit = Math.Min(frame.Length, _maxFrameSize);
        while (s.Phase != Phase.Body)
        {
            // A NUL ends the search too: a frame cut short before its blank line fails here, not at the maximum size.
            var lf = frame[s.SearchFrom..limit].IndexOfAny(Lf, Nul);
            if (lf < 0)
            {
                s.SearchFrom = limit;
                return frame.Length >= _maxFrameSize ? TooLarge() : ScanResult.NeedMore;
            }

            lf += s.SearchFrom;
            var line = frame[s.LineStart..lf];
            if (frame[lf] == Nul)
            {
                return Fail($"malformed STOMP frame: NUL before the end of the headers ('{Show(line)}')");
            }

            if (line is [.., Cr])
            {
                line = line[..^1];
            }

            if (line.Contains(Cr))
            {
                return Fail($"malformed STOMP frame: carriage return not followed by line feed in line ('{Show(line)}')");
            }

            if (s.Phase == Phase.Command)
            {
                if (!StompCommands.TryParse(line, out s.Command))
                {
                    return Fail($"malformed STOMP frame: unknown command ('{Show(line)}')");
                }

                if (!_acceptClientCommands && !StompCommands.IsServerCommand(s.Command))
                {
                    return Fail($"malformed STOMP frame: {Encoding.ASCII.GetString(line)} is a client command, not one a server sends");
                }

                s.HeadersStart = lf + 1;
                s.Phase = Phase.Headers;
            }
            else if (line.IsEmpty)
            {
                s.HeadersEnd = s.LineStart;
                s.BodyStart = lf + 1;
                s.Phase = Phase.Body;
                s.SearchFrom = s.BodyStart;
                if (!Utf8.IsValid(frame[s.HeadersStart..s.HeadersEnd]))
                {
                    return Fail("malformed STOMP frame: headers are not valid UTF-8");
                }

                if (s.ContentLength > 0 && !StompCommands.MayHaveBody(s.Command))
                {
                    return BodyNotAllowed();
                }

                if (s.ContentLength >= 0 && (long)s.BodyStart + s.ContentLength + 1 > _maxFrameSize)
                {
                    return TooLarge();
                }

                break;
            }
            else if (CheckHeader(line, ref s) is { } error)
            {
                return Fail(error);
            }

            s.LineStart = s.SearchFrom = lf + 1;
        }

        if (s.ContentLength >= 0)
        {
            var end = s.BodyStart + s.ContentLength;
            if (frame.Length <= end)
            {
                return ScanResult.NeedMore;
            }

            if (frame[end] != Nul)
            {
                return Fail($"malformed STOMP frame: no NUL after the {s.ContentLength}-byte body that content-length announces");
            }

            length = end + 1;
            return ScanResult.Complete;
        }

        var nul = frame[s.SearchFrom..limit].IndexOf(Nul);
        if (nul < 0)
        {
            s.SearchFrom = limit;
            return frame.Length >= _maxFrameSize ? TooLarge() : ScanResult.NeedMore;
        }

        nul += s.SearchFrom;
        if (nul > s.BodyStart && !StompCommands.MayHaveBody(s.Command))
        {
            return BodyNotAllowed();
        }

        length = nul + 1;
        return ScanResult.Complete;
    }

    private static string? CheckHeader(ReadOnlySpan<byte> line, ref Scan s)
    {
        var colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            return $"malformed STOMP frame: header line without ':' ('{Show(line)}')";
        }

        if (colon == 0)
        {
            return $"malformed STOMP frame: header line with an empty name ('{Show(line)}')";
        }

        if (StompCommands.EscapesHeaders(s.Command) && StompHeaderEscaping.IndexOfInvalidEscape(line) is var escape and >= 0)
        {
            return escape + 1 < line.Length
                ? $"malformed STOMP frame: undefined escape '\\{Show(line.Slice(escape + 1, 1))}' in header line ('{Show(line)}')"
                : $"malformed STOMP frame: '\\' at the end of header line ('{Show(line)}')";
        }

        // content-length: the first one counts, like any repeated header.
        if (s.ContentLength < 0 && line[..colon].SequenceEqual("content-length"u8))
        {
            var value = line[(colon + 1)..];
            long length = 0;
            foreach (var digit in value)
            {
                length = digit is >= (byte)'0' and <= (byte)'9' ? (length * 10) + (digit - '0') : -1;
                if (length is < 0 or > int.MaxValue)
                {
                    break;
                }
            }

            if (value.IsEmpty || length is < 0 or > int.MaxValue)
            {
                return $"malformed STOMP frame: content-length is not an octet count ('{Show(value)}')";
            }

            s.ContentLength = (int)length;
        }

        return null;
    }

    private StompFrameView View(ReadOnlySpan<byte> frame, int chunkOffset)
        => new(_scan.Command, frame, _scan.HeadersStart, _scan.HeadersEnd, _scan.BodyStart, chunkOffset);

    private ScanResult TooLarge() => Fail($"STOMP frame larger than the maximum of {_maxFrameSize} bytes");

    private ScanResult BodyNotAllowed()
        => Fail($"malformed STOMP frame: {Encoding.ASCII.GetString(StompCommands.Utf8Name(_scan.Command))} with a body (only SEND, MESSAGE and ERROR may have one)");

    private ScanResult Fail(string error)
    {
        Error = error;
        _buffered = 0;
        _pendingCr = false;
        ReturnBuffer();
        return ScanResult.Failed;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var needed = _buffered + bytes.Length;
        if (_buffer is null || _buffer.Length < needed)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Min(_maxFrameSize, Math.Max(needed, Math.Max(256, (_buffer?.Length ?? 0) * 2))));
            _buffer.AsSpan(0, _buffered).CopyTo(grown);
            ReturnBuffer();
            _buffer = grown;
        }

        bytes.CopyTo(_buffer.AsSpan(_buffered));
        _buffered = needed;
    }

    private void ReleaseHandedOut()
    {
        if (_bufferHandedOut)
        {
            _bufferHandedOut = false;
            _buffered = 0;
            ReturnBuffer();
        }
    }

    private void ReturnBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // For error messages: the start of the offending text, control characters made visible.
    private static string Show(ReadOnlySpan<byte> bytes)
    {
        var text = Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, ShownLength)]);
        var builder = new StringBuilder(text.Length + 1);
        foreach (var c in text)
        {
            _ = char.IsControl(c) ? builder.Append($"\\x{(int)c:X2}") : builder.Append(c);
        }

        return bytes.Length > ShownLength ? builder.Append('…').ToString() : builder.ToString();
    }

    /// <summary>How far the current frame is scanned; offsets from the frame's first byte, so they survive its move into the buffer.</summary>
    private struct Scan
    {
        public static readonly Scan Start = new() { ContentLength = -1 };

        public Phase Phase;
        public int LineStart;
        public int SearchFrom;
        public StompCommand Command;
        public int HeadersStart;
        public int HeadersEnd;
        public int BodyStart;
        public int ContentLength;
    }
}
