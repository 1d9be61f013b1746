using System.Text.Json;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>Text frames: the v2 array <c>[join_ref, ref, topic, event, payload]</c> and the v1 object with the same fields by name.</summary>
internal sealed partial class PhoenixDecoder
{
    private const string ArrayArity = "expected a JSON array of 5 elements";
    private const string NotAnObject = "expected a JSON object with topic, event, payload and ref";

    [Flags]
    private enum Seen
    {
        None = 0,
        Topic = 1,
        Event = 2,
        Payload = 4,
        Ref = 8,
        JoinRef = 16,
        Status = 32,
        Response = 64,
    }

    private bool TryDecodeArray(ReadOnlySpan<byte> message, out PhoenixMessage decoded, out string? error)
    {
        var reader = new Utf8JsonReader(message);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return Fail(ArrayArity, out decoded, out error);
        }

        long joinRef = 0, @ref = 0;
        ReadOnlySpan<byte> topic = default, @event = default;
        if (!NextElement(ref reader, out error) || !TryReadRef(ref reader, "join_ref", out joinRef, out error)
            || !NextElement(ref reader, out error) || !TryReadRef(ref reader, "ref", out @ref, out error)
            || !NextElement(ref reader, out error) || !TryReadText(ref reader, "topic", out topic, out error)
            || !NextElement(ref reader, out error) || !TryReadText(ref reader, "event", out @event, out error)
            || !NextElement(ref reader, out error))
        {
            decoded = default;
            return false;
        }

        var payload = ReadValueRange(ref reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.EndArray)
        {
            return Fail(ArrayArity + ", got more", out decoded, out error);
        }

        // Throws on anything but whitespace after the array.
        reader.Read();
        return TryComplete(message, joinRef, @ref, topic, @event, payload, out decoded, out error);
    }

    private bool TryDecodeObject(ReadOnlySpan<byte> message, out PhoenixMessage decoded, out string? error)
    {
        var reader = new Utf8JsonReader(message);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail(NotAnObject, out decoded, out error);
        }

        var seen = Seen.None;
        long joinRef = PhoenixMessage.NoRef, @ref = PhoenixMessage.NoRef;
        ReadOnlySpan<byte> topic = default, @event = default;
        Range payload = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!TryMatchKey(ref reader, reply: false, out var key, out error))
            {
                decoded = default;
                return false;
            }

            if ((seen & key) != 0)
            {
                return Fail($"duplicate key \"{NameOf(key)}\"", out decoded, out error);
            }

            seen |= key;
            reader.Read();
            error = null;
            var ok = key switch
            {
                Seen.Topic => TryReadText(ref reader, "topic", out topic, out error),
                Seen.Event => TryReadText(ref reader, "event", out @event, out error),
                Seen.Ref => TryReadRef(ref reader, "ref", out @ref, out error),
                Seen.JoinRef => TryReadRef(ref reader, "join_ref", out joinRef, out error),
                _ => true,
            };
            if (!ok)
            {
                decoded = default;
                return false;
            }

            if (key == Seen.Payload)
            {
                payload = ReadValueRange(ref reader);
            }
            else if (key == Seen.None)
            {
                reader.Skip();
            }
        }

        // Throws on anything but whitespace after the object.
        reader.Read();
        foreach (var required in (ReadOnlySpan<Seen>)[Seen.Topic, Seen.Event, Seen.Payload])
        {
            if ((seen & required) == 0)
            {
                return Fail($"v1 message without \"{NameOf(required)}\"", out decoded, out error);
            }
        }

        return TryComplete(message, joinRef, @ref, topic, @event, payload, out decoded, out error);
    }

    private static bool NextElement(ref Utf8JsonReader reader, out string? error)
    {
        // At the end of the input Read throws (the array is unclosed) rather than returning false.
        reader.Read();
        error = reader.TokenType == JsonTokenType.EndArray ? ArrayArity + ", got fewer" : null;
        return error is null;
    }

    /// <summary>The current value's raw text, skipping over it when it is an object or an array.</summary>
    private static Range ReadValueRange(ref Utf8JsonReader reader)
    {
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        return new Range(start, (int)reader.BytesConsumed);
    }

    private static bool TryReadRef(ref Utf8JsonReader reader, string name, out long value, out string? error)
    {
        error = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                value = PhoenixMessage.NoRef;
                return true;
            case JsonTokenType.String when !reader.ValueIsEscaped:
                value = ParseRef(reader.ValueSpan);
                return true;
            case JsonTokenType.String:
                value = ParseEscapedRef(ref reader);
                return true;
            case JsonTokenType.Number:
                // A number is not what this client sends, so it answers nothing of ours.
                value = PhoenixMessage.UnknownRef;
                return true;
            default:
                value = 0;
                error = name + " is neither a string nor null";
                return false;
        }
    }

    private static long ParseEscapedRef(ref Utf8JsonReader reader)
    {
        if (reader.ValueSpan.Length > MaxEscapedRefLength)
        {
            return PhoenixMessage.UnknownRef;
        }

        Span<byte> buffer = stackalloc byte[MaxEscapedRefLength];
        try
        {
            return ParseRef(buffer[..reader.CopyString(buffer)]);
        }
        catch (InvalidOperationException)
        {
            // An unpaired surrogate escape: not digits anyway.
            return PhoenixMessage.UnknownRef;
        }
    }

    /// <summary>The current string token as UTF-8: the bytes as they are when unescaped, else unescaped into the scratch buffer.</summary>
    private bool TryReadText(scoped ref Utf8JsonReader reader, string name, out ReadOnlySpan<byte> text, out string? error)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            text = default;
            error = name + " is not a JSON string";
            return false;
        }

        if (!reader.ValueIsEscaped)
        {
            text = reader.ValueSpan;
            return CheckUtf8(text, name, out error);
        }

        // Unescaping never lengthens a string.
        var buffer = Reserve(reader.ValueSpan.Length);
        int written;
        try
        {
            written = reader.CopyString(buffer);
        }
        catch (InvalidOperationException)
        {
            text = default;
            error = name + " has an invalid escape or invalid UTF-8";
            return false;
        }

        _scratchUsed += written;
        text = buffer[..written];
        return CheckUtf8(text, name, out error);
    }

    /// <summary>Which field the current property name is (<see cref="Seen.None"/> for any other); false for a name with a bad escape.</summary>
    private static bool TryMatchKey(ref Utf8JsonReader reader, bool reply, out Seen key, out string? error)
    {
        error = null;
        try
        {
            key = reply ? ReplyKeyOf(ref reader) : KeyOf(ref reader);
            return true;
        }
        catch (InvalidOperationException)
        {
            // Comparing an escaped name unescapes it, which throws on an unpaired surrogate escape.
            key = Seen.None;
            error = "a key has an invalid escape";
            return false;
        }
    }

    private static Seen KeyOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("topic"u8))
        {
            return Seen.Topic;
        }

        if (reader.ValueTextEquals("event"u8))
        {
            return Seen.Event;
        }

        if (reader.ValueTextEquals("payload"u8))
        {
            return Seen.Payload;
        }

        if (reader.ValueTextEquals("ref"u8))
        {
            return Seen.Ref;
        }

        return reader.ValueTextEquals("join_ref"u8) ? Seen.JoinRef : Seen.None;
    }

    private static string NameOf(Seen key) => key switch
    {
        Seen.Topic => "topic",
        Seen.Event => "event",
        Seen.Payload => "payload",
        Seen.Ref => "ref",
        Seen.JoinRef => "join_ref",
        Seen.Status => "status",
        _ => "response",
    };
}
