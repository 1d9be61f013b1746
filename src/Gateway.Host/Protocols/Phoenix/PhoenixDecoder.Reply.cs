using System.Text.Json;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>Text replies: <c>phx_reply</c> with a payload of <c>{"status": ..., "response": ...}</c>.</summary>
internal sealed partial class PhoenixDecoder
{
    /// <summary>Builds the message; for <c>phx_reply</c>, reads <c>status</c> and <c>response</c> out of the payload (which may come before the event in v1).</summary>
    private bool TryComplete(ReadOnlySpan<byte> message, long joinRef, long @ref, ReadOnlySpan<byte> topic, ReadOnlySpan<byte> @event, Range payload, out PhoenixMessage decoded, out string? error)
    {
        if (!@event.SequenceEqual(PhoenixEvents.ReplyUtf8))
        {
            decoded = new PhoenixMessage(joinRef, @ref, topic, @event, default, payload, payloadIsBinary: false);
            error = null;
            return true;
        }

        var (start, length) = payload.GetOffsetAndLength(message.Length);
        var reader = new Utf8JsonReader(message.Slice(start, length));
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail("reply payload is not a JSON object", out decoded, out error);
        }

        var seen = Seen.None;
        ReadOnlySpan<byte> status = default;
        Range response = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!TryMatchKey(ref reader, reply: true, out var key, out error))
            {
                decoded = default;
                return false;
            }

            if ((seen & key) != 0)
            {
                return Fail($"duplicate key \"{NameOf(key)}\" in the reply payload", out decoded, out error);
            }

            seen |= key;
            reader.Read();
            if (key == Seen.Status)
            {
                if (!TryReadText(ref reader, "reply status", out status, out error))
                {
                    decoded = default;
                    return false;
                }
            }
            else if (key == Seen.Response)
            {
                var (responseStart, responseLength) = ReadValueRange(ref reader).GetOffsetAndLength(length);
                response = new Range(start + responseStart, start + responseStart + responseLength);
            }
            else
            {
                reader.Skip();
            }
        }

        if (status.IsEmpty)
        {
            return Fail("reply without status", out decoded, out error);
        }

        decoded = new PhoenixMessage(joinRef, @ref, topic, @event, status, response, payloadIsBinary: false);
        error = null;
        return true;
    }

    private static Seen ReplyKeyOf(ref Utf8JsonReader reader)
        => reader.ValueTextEquals("status"u8) ? Seen.Status : reader.ValueTextEquals("response"u8) ? Seen.Response : Seen.None;
}
