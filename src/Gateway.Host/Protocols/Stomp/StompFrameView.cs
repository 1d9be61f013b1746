using System.Buffers;

namespace Gateway.Host.Protocols.Stomp;

/// <summary>
/// A complete received frame, pointing into the caller's chunk when the frame lies entirely inside
/// it and into the parser's buffer otherwise. Nothing is decoded up front: headers become strings
/// only when asked for, so unread headers cost nothing.
/// </summary>
internal readonly ref struct StompFrameView
{
    private const int StackLimit = 256;

    // From the first byte of the command line to the NUL (excluded).
    private readonly ReadOnlySpan<byte> _frame;
    private readonly int _headersStart;
    private readonly int _headersEnd;
    private readonly int _bodyStart;

    internal StompFrameView(StompCommand command, ReadOnlySpan<byte> frame, int headersStart, int headersEnd, int bodyStart, int chunkOffset)
    {
        Command = command;
        _frame = frame;
        _headersStart = headersStart;
        _headersEnd = headersEnd;
        _bodyStart = bodyStart;
        ChunkOffset = chunkOffset;
    }

    public StompCommand Command { get; }

    /// <summary>The header lines as received, each ending with its EOL; escaped unless the frame is CONNECT or CONNECTED.</summary>
    public ReadOnlySpan<byte> HeaderBlock => _frame[_headersStart.._headersEnd];

    /// <summary>The body: exactly <c>content-length</c> bytes (NULs included) when the header is there, else up to the first NUL.</summary>
    public ReadOnlySpan<byte> Body => _frame[_bodyStart..];

    /// <summary>Where the frame starts in the chunk given to <see cref="StompParser.Read"/>; -1 when the parser assembled it from several chunks.</summary>
    public int ChunkOffset { get; }

    /// <summary>The frame spans several chunks: <see cref="Body"/> points into the parser's buffer, so a consumer that keeps it must copy it.</summary>
    public bool IsBuffered => ChunkOffset < 0;

    /// <summary>Where <see cref="Body"/> starts in the chunk (for a slice of the message, as <see cref="InboundFrame"/> wants); -1 when <see cref="IsBuffered"/>.</summary>
    public int BodyOffset => ChunkOffset < 0 ? -1 : ChunkOffset + _bodyStart;

    /// <summary>The frame's length on the wire, from the command to the NUL included (not the EOLs after it).</summary>
    public int Length => _frame.Length + 1;

    /// <summary>False for CONNECT and CONNECTED, whose headers are not escaped.</summary>
    public bool HeadersAreEscaped => StompCommands.EscapesHeaders(Command);

    /// <summary>Every header line in order, repeats included.</summary>
    public HeaderEnumerator Headers => new(HeaderBlock, HeadersAreEscaped);

    /// <summary>The first value of the header named <paramref name="wireName"/>, both in wire form (escaped); allocates nothing.</summary>
    public bool TryGetHeader(ReadOnlySpan<byte> wireName, out ReadOnlySpan<byte> wireValue)
    {
        foreach (var header in Headers)
        {
            if (header.WireName.SequenceEqual(wireName))
            {
                wireValue = header.WireValue;
                return true;
            }
        }

        wireValue = default;
        return false;
    }

    /// <summary>The first value of the header named <paramref name="name"/>, decoded (repeats after it are history, per the specification).</summary>
    public bool TryGetHeader(string name, out string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        var escape = HeadersAreEscaped;
        var length = StompHeaderEscaping.GetWireLength(name, escape);
        byte[]? rented = null;
        var buffer = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var wireName = buffer[..StompHeaderEscaping.Write(name, buffer, escape)];
            if (TryGetHeader(wireName, out ReadOnlySpan<byte> wireValue))
            {
                value = StompHeaderEscaping.Decode(wireValue, escape);
                return true;
            }

            value = string.Empty;
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Splits a header block the parser validated into <see cref="StompHeader"/>s.</summary>
    internal ref struct HeaderEnumerator
    {
        private readonly bool _escaped;
        private ReadOnlySpan<byte> _remaining;

        internal HeaderEnumerator(ReadOnlySpan<byte> block, bool escaped)
        {
            _remaining = block;
            _escaped = escaped;
        }

        public StompHeader Current { get; private set; }

        public readonly HeaderEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            var lf = _remaining.IndexOf((byte)'\n');
            if (lf < 0)
            {
                return false;
            }

            var line = _remaining[..lf];
            _remaining = _remaining[(lf + 1)..];
            if (line is [.., (byte)'\r'])
            {
                line = line[..^1];
            }

            var colon = line.IndexOf((byte)':');
            Current = new StompHeader(line[..colon], line[(colon + 1)..], _escaped);
            return true;
        }
    }
}
