using System.Buffers;
using System.Buffers.Text;

namespace Gateway.Host.Protocols.Stomp;

/// <summary>
/// Writes one client frame straight into an <see cref="IBufferWriter{T}"/>: the command, then
/// <see cref="Header(string, string)"/> calls, then <see cref="End"/>. Headers are escaped except in
/// CONNECT; SEND gets its <c>content-length</c> from the body. A ref struct so a frame costs no
/// allocation beyond the writer's own buffer.
/// </summary>
internal ref struct StompFrameWriter
{
    private readonly IBufferWriter<byte> _writer;
    private readonly StompCommand _command;
    private readonly bool _escape;
    private bool _ended;

    /// <summary>Writes the command line.</summary>
    /// <exception cref="ArgumentException"><paramref name="command"/> is not a client command.</exception>
    public StompFrameWriter(IBufferWriter<byte> writer, StompCommand command)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!StompCommands.IsClientCommand(command))
        {
            throw new ArgumentException($"{command} is not a STOMP client command.", nameof(command));
        }

        _writer = writer;
        _command = command;
        _escape = StompCommands.EscapesHeaders(command);
        WriteLine(StompCommands.Utf8Name(command));
    }

    /// <summary>Writes a header, escaped unless the frame is CONNECT.</summary>
    /// <exception cref="ArgumentException">The name is empty or <c>content-length</c> (the writer's own), a string holds a lone surrogate or NUL, or a CONNECT header holds what cannot be sent unescaped.</exception>
    public readonly void Header(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        WriteHeader(name, value);
    }

    /// <summary>Writes a header whose value is a number (receipt ids), without a string.</summary>
    public readonly void Header(string name, long value)
    {
        ArgumentNullException.ThrowIfNull(name);
        Span<char> digits = stackalloc char[20];
        value.TryFormat(digits, out var length, provider: System.Globalization.CultureInfo.InvariantCulture);
        WriteHeader(name, digits[..length]);
    }

    /// <summary>
    /// Writes a header already in wire form (escaped as this frame escapes), e.g. the <c>ack</c> value
    /// of a received MESSAGE as the <c>id</c> of the ACK: no decoding, no allocation.
    /// </summary>
    /// <exception cref="ArgumentException">The bytes are not a valid header in this frame's form.</exception>
    public readonly void Header(ReadOnlySpan<byte> wireName, ReadOnlySpan<byte> wireValue)
    {
        CheckOpen();
        if (wireName.IsEmpty || wireName.IndexOfAny((byte)':', (byte)'\r', (byte)'\n') >= 0 || wireName.Contains((byte)0)
            || wireValue.IndexOfAny((byte)'\r', (byte)'\n', (byte)0) >= 0
            || (_escape && (wireValue.Contains((byte)':') || StompHeaderEscaping.IndexOfInvalidEscape(wireName) >= 0 || StompHeaderEscaping.IndexOfInvalidEscape(wireValue) >= 0)))
        {
            throw new ArgumentException("Not a STOMP header in wire form.", nameof(wireValue));
        }

        if (wireName.SequenceEqual("content-length"u8))
        {
            throw new ArgumentException("content-length is written by the frame writer from the body.", nameof(wireName));
        }

        var span = _writer.GetSpan(wireName.Length + wireValue.Length + 2);
        wireName.CopyTo(span);
        span[wireName.Length] = (byte)':';
        wireValue.CopyTo(span[(wireName.Length + 1)..]);
        span[wireName.Length + 1 + wireValue.Length] = (byte)'\n';
        _writer.Advance(wireName.Length + wireValue.Length + 2);
    }

    /// <summary>Ends the headers and writes the body and the NUL; a SEND states its body length in <c>content-length</c>, so the body may hold NULs.</summary>
    /// <exception cref="ArgumentException">A body on a frame other than SEND.</exception>
    public void End(ReadOnlySpan<byte> body = default)
    {
        CheckOpen();
        if (_command == StompCommand.Send)
        {
            var span = _writer.GetSpan(16 + 11);
            "content-length:"u8.CopyTo(span);
            Utf8Formatter.TryFormat(body.Length, span[15..], out var digits);
            span[15 + digits] = (byte)'\n';
            _writer.Advance(15 + digits + 1);
        }
        else if (!body.IsEmpty)
        {
            throw new ArgumentException($"Only SEND carries a body among client frames, not {_command}.", nameof(body));
        }

        _ended = true;
        var end = _writer.GetSpan(body.Length + 2);
        end[0] = (byte)'\n';
        body.CopyTo(end[1..]);
        end[body.Length + 1] = 0;
        _writer.Advance(body.Length + 2);
    }

    private readonly void WriteHeader(ReadOnlySpan<char> name, ReadOnlySpan<char> value)
    {
        CheckOpen();
        if (name.IsEmpty)
        {
            throw new ArgumentException("A STOMP header name cannot be empty.", nameof(name));
        }

        if (name.SequenceEqual("content-length"))
        {
            throw new ArgumentException("content-length is written by the frame writer from the body.", nameof(name));
        }

        if (name.Contains('\0') || value.Contains('\0'))
        {
            throw new ArgumentException($"STOMP header '{name}' holds a NUL character.", nameof(value));
        }

        if (!_escape && (name.IndexOfAny(":\r\n") >= 0 || value.IndexOfAny('\r', '\n') >= 0))
        {
            throw new ArgumentException($"CONNECT header '{name}' holds a line break (or its name a ':'): CONNECT headers are not escaped.", nameof(value));
        }

        var nameLength = StompHeaderEscaping.GetWireLength(name, _escape);
        var valueLength = StompHeaderEscaping.GetWireLength(value, _escape);
        var span = _writer.GetSpan(nameLength + valueLength + 2);
        var written = StompHeaderEscaping.Write(name, span, _escape);
        span[written++] = (byte)':';
        written += StompHeaderEscaping.Write(value, span[written..], _escape);
        span[written++] = (byte)'\n';
        _writer.Advance(written);
    }

    private readonly void CheckOpen()
    {
        if (_ended || _writer is null)
        {
            throw new InvalidOperationException("The frame is already ended (or the writer was not created with a command).");
        }
    }

    private readonly void WriteLine(ReadOnlySpan<byte> line)
    {
        var span = _writer.GetSpan(line.Length + 1);
        line.CopyTo(span);
        span[line.Length] = (byte)'\n';
        _writer.Advance(line.Length + 1);
    }
}
