namespace Gateway;

/// <summary>A message to send: ready-made text or binary, or a value for the socket's outbound encoder.</summary>
public readonly struct OutboundMessage
{
    private static readonly KeyValuePair<string, string>[] s_noHeaders = [];
    private readonly KeyValuePair<string, string>[]? _headers;

    private OutboundMessage(FrameKind kind, ReadOnlyMemory<byte> payload, object? value, KeyValuePair<string, string>[]? headers = null)
    {
        Kind = kind;
        Payload = payload;
        Value = value;
        _headers = headers;
    }

    /// <summary>The frame kind of a ready-made message.</summary>
    public FrameKind Kind { get; }

    /// <summary>The bytes of a ready-made message (UTF-8 for text). The gateway copies them before the send call returns.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>A value to be encoded by the socket's <see cref="IOutboundEncoder"/>, or <see langword="null"/> for a ready-made message.</summary>
    public object? Value { get; }

    /// <summary>
    /// The protocol headers to send with it, in order: STOMP SEND headers (<c>destination</c>,
    /// <c>content-type</c>, <c>persistent</c>, ...); Phoenix <c>topic</c> and <c>event</c>. Empty for a
    /// raw socket, which rejects a message with headers as <see cref="SendStatus.Invalid"/>.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers ?? s_noHeaders;

    /// <summary>A copy of this message with one more header (a repeated name: the first one counts).</summary>
    /// <param name="name">The header name, e.g. <c>destination</c>.</param>
    /// <param name="value">The value, unescaped; the protocol escapes it.</param>
    /// <returns>The message with the header.</returns>
    public OutboundMessage WithHeader(string name, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        var headers = _headers ?? s_noHeaders;
        var added = new KeyValuePair<string, string>[headers.Length + 1];
        headers.CopyTo(added, 0);
        added[^1] = new(name, value);
        return new(Kind, Payload, Value, added);
    }

    /// <summary>A text message.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The message.</returns>
    public static OutboundMessage Text(string text) => new(FrameKind.Text, System.Text.Encoding.UTF8.GetBytes(text), null);

    /// <summary>A text message from UTF-8 bytes.</summary>
    /// <param name="utf8">The UTF-8 bytes.</param>
    /// <returns>The message.</returns>
    public static OutboundMessage Utf8Text(ReadOnlyMemory<byte> utf8) => new(FrameKind.Text, utf8, null);

    /// <summary>A binary message.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>The message.</returns>
    public static OutboundMessage Binary(ReadOnlyMemory<byte> bytes) => new(FrameKind.Binary, bytes, null);

    /// <summary>A value that the socket's configured encoder turns into a frame (JSON text by default).</summary>
    /// <param name="value">The value, e.g. a record to be serialized.</param>
    /// <returns>The message.</returns>
    public static OutboundMessage Encoded(object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(default, default, value);
    }
}
