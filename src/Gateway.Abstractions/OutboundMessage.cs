namespace Gateway;

/// <summary>A message to send: ready-made text or binary, or a value for the socket's outbound encoder.</summary>
public readonly struct OutboundMessage
{
    private OutboundMessage(FrameKind kind, ReadOnlyMemory<byte> payload, object? value)
    {
        Kind = kind;
        Payload = payload;
        Value = value;
    }

    /// <summary>The frame kind of a ready-made message.</summary>
    public FrameKind Kind { get; }

    /// <summary>The bytes of a ready-made message (UTF-8 for text). The gateway copies them before the send call returns.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>A value to be encoded by the socket's <see cref="IOutboundEncoder"/>, or <see langword="null"/> for a ready-made message.</summary>
    public object? Value { get; }

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
