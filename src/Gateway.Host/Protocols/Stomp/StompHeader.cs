namespace Gateway.Host.Protocols.Stomp;

/// <summary>One header line of a received frame, as wire bytes; decoding to a string is left to the reader of the header.</summary>
internal readonly ref struct StompHeader
{
    internal StompHeader(ReadOnlySpan<byte> wireName, ReadOnlySpan<byte> wireValue, bool isEscaped)
    {
        WireName = wireName;
        WireValue = wireValue;
        IsEscaped = isEscaped;
    }

    /// <summary>The name as received: UTF-8, escaped when <see cref="IsEscaped"/>.</summary>
    public ReadOnlySpan<byte> WireName { get; }

    /// <summary>The value as received: UTF-8, escaped when <see cref="IsEscaped"/>.</summary>
    public ReadOnlySpan<byte> WireValue { get; }

    /// <summary>False for CONNECT and CONNECTED frames, whose headers are sent verbatim.</summary>
    public bool IsEscaped { get; }

    /// <summary>The decoded name (allocates).</summary>
    public string GetName() => StompHeaderEscaping.Decode(WireName, IsEscaped);

    /// <summary>The decoded value (allocates).</summary>
    public string GetValue() => StompHeaderEscaping.Decode(WireValue, IsEscaped);
}
