namespace Gateway.Host.Protocols.Phoenix;

/// <summary>
/// One decoded Phoenix Channels message, as <see cref="PhoenixDecoder.TryDecode"/> gives it: views into
/// the message bytes (or, for JSON strings that had escapes, into the decoder's scratch buffer), so
/// decoding allocates nothing in the common case.
/// </summary>
/// <remarks>
/// <see cref="Topic"/>, <see cref="Event"/> and <see cref="Status"/> are valid until the decoder's next
/// call and while the message bytes are; <see cref="Payload"/> is a range of the message bytes, so a
/// caller can hand a slice of its receive buffer on without copying.
/// </remarks>
internal readonly ref struct PhoenixMessage
{
    /// <summary>A ref that is null, absent, or empty in a binary frame.</summary>
    public const long NoRef = -1;

    /// <summary>A ref that is present but not a plain non-negative integer (leading zeros, a sign, a JSON number, too large): it matches nothing this client sent.</summary>
    public const long UnknownRef = -2;

    internal PhoenixMessage(long joinRef, long @ref, ReadOnlySpan<byte> topic, ReadOnlySpan<byte> @event, ReadOnlySpan<byte> status, Range payload, bool payloadIsBinary)
    {
        JoinRef = joinRef;
        Ref = @ref;
        Topic = topic;
        Event = @event;
        Status = status;
        Payload = payload;
        PayloadIsBinary = payloadIsBinary;
    }

    /// <summary>The join ref: a non-negative integer, <see cref="NoRef"/> (-1) or <see cref="UnknownRef"/> (-2).</summary>
    public long JoinRef { get; }

    /// <summary>The message ref: a non-negative integer, <see cref="NoRef"/> (-1) or <see cref="UnknownRef"/> (-2).</summary>
    public long Ref { get; }

    /// <summary>The topic, UTF-8, JSON escapes resolved.</summary>
    public ReadOnlySpan<byte> Topic { get; }

    /// <summary>The event, UTF-8, JSON escapes resolved; <c>phx_reply</c> for a reply, text or binary.</summary>
    public ReadOnlySpan<byte> Event { get; }

    /// <summary>A reply's status (<c>ok</c>, <c>error</c>, ...), never empty for a reply; empty for any other event.</summary>
    public ReadOnlySpan<byte> Status { get; }

    /// <summary>
    /// Where the payload lies in the message bytes: for a text frame the raw JSON text of <c>payload</c>
    /// (of <c>response</c> for a reply; an empty range when a reply has none); for a binary frame every byte after the header.
    /// </summary>
    public Range Payload { get; }

    /// <summary>The message was a binary frame: <see cref="Payload"/> is opaque bytes rather than JSON text.</summary>
    public bool PayloadIsBinary { get; }

    /// <summary>The event is <c>phx_reply</c> (and <see cref="Status"/> is set).</summary>
    public bool IsReply => Event.SequenceEqual(PhoenixEvents.ReplyUtf8);
}
