using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Gateway.Testing;

/// <summary>
/// The server side of Phoenix's V1 and V2 JSON serializers (<c>Phoenix.Socket.V1.JSONSerializer</c>,
/// <c>Phoenix.Socket.V2.JSONSerializer</c>), written from the protocol description for the test kit.
/// </summary>
/// <remarks>
/// V2 text: <c>[join_ref, ref, topic, event, payload]</c>. V1 text: an object; the server writes only
/// <c>topic</c>, <c>event</c>, <c>payload</c> and <c>ref</c> (never <c>join_ref</c>) and reads
/// <c>join_ref</c> when present. V2 binary frames start with a kind byte and one size byte per field:
/// client push 0 <c>[0][jr][ref][topic][event]</c> (sizes, then fields, then payload); server push 0 has
/// no ref, <c>[0][jr][topic][event]</c>; reply 1 <c>[1][jr][ref][topic][status]</c>; broadcast 2
/// <c>[2][topic][event]</c>. Every field is at most 255 bytes.
/// </remarks>
internal static class PhoenixWire
{
    public const string Null = "null";
    public const byte PushKind = 0;
    public const byte ReplyKind = 1;
    public const byte BroadcastKind = 2;

    // Jason (Phoenix's JSON library) escapes only quotes, backslashes and control characters.
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Decodes what a client sent; throws <see cref="FormatException"/> where Phoenix's decoder would raise.</summary>
    public static PhoenixMessage Decode(byte[] data, bool binaryFrame, int serializerVersion)
    {
        var timestamp = Stopwatch.GetTimestamp();
        try
        {
            // V1's decode!/2 ignores the opcode: a binary frame is parsed as JSON text too.
            if (serializerVersion == 1)
            {
                return DecodeV1(data, timestamp);
            }

            return binaryFrame ? DecodeBinaryPush(data, timestamp) : DecodeV2Text(data, timestamp);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Not JSON: {ex.Message}", ex);
        }
    }

    private static PhoenixMessage DecodeV2Text(byte[] data, long timestamp)
    {
        using var document = JsonDocument.Parse(data);
        var root = document.RootElement;

        // [join_ref, ref, topic, event, payload | _]: extra elements are ignored.
        if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() < 5)
        {
            throw new FormatException("A V2 text message is an array of at least five elements.");
        }

        return new PhoenixMessage
        {
            JoinRef = RefValue(root[0]),
            JoinRefJson = root[0].GetRawText(),
            Ref = RefValue(root[1]),
            RefJson = root[1].GetRawText(),
            Topic = RequireString(root[2], "topic"),
            Event = RequireString(root[3], "event"),
            Payload = root[4].Clone(),
            Timestamp = timestamp,
        };
    }

    private static PhoenixMessage DecodeV1(byte[] data, long timestamp)
    {
        using var document = JsonDocument.Parse(data);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("A V1 message is a JSON object.");
        }

        // Phoenix.Socket.Message.from_map!: topic, event, payload and ref are required (ref may be null).
        JsonElement Required(string name) =>
            root.TryGetProperty(name, out var value) ? value : throw new FormatException($"missing key \"{name}\"");

        var reference = Required("ref");
        var hasJoinRef = root.TryGetProperty("join_ref", out var joinRef);
        return new PhoenixMessage
        {
            JoinRef = hasJoinRef ? RefValue(joinRef) : null,
            JoinRefJson = hasJoinRef ? joinRef.GetRawText() : Null,
            Ref = RefValue(reference),
            RefJson = reference.GetRawText(),
            Topic = RequireString(Required("topic"), "topic"),
            Event = RequireString(Required("event"), "event"),
            Payload = Required("payload").Clone(),
            Timestamp = timestamp,
        };
    }

    private static PhoenixMessage DecodeBinaryPush(byte[] data, long timestamp)
    {
        // The V2 serializer decodes only kind 0 from a client; anything else fails its match.
        if (data.Length < 5 || data[0] != PushKind)
        {
            throw new FormatException($"A binary message from a client is a push (kind 0) with a 5-byte header; got kind {(data.Length > 0 ? data[0] : -1)}.");
        }

        var fields = ReadFields(data, 4, out var payloadOffset);
        return new PhoenixMessage
        {
            JoinRef = fields[0],
            JoinRefJson = JsonString(fields[0]),
            Ref = fields[1],
            RefJson = JsonString(fields[1]),
            Topic = fields[2],
            Event = fields[3],
            BinaryPayload = data.AsMemory(payloadOffset),
            Timestamp = timestamp,
        };
    }

    /// <summary>Reads <paramref name="count"/> size bytes after the kind byte, then the fields they size.</summary>
    public static string[] ReadFields(byte[] data, int count, out int payloadOffset)
    {
        if (data.Length < 1 + count)
        {
            throw new FormatException("Binary header is truncated.");
        }

        var fields = new string[count];
        var offset = 1 + count;
        for (var i = 0; i < count; i++)
        {
            var size = data[1 + i];
            if (offset + size > data.Length)
            {
                throw new FormatException("Binary field runs past the end of the frame.");
            }

            fields[i] = Encoding.UTF8.GetString(data, offset, size);
            offset += size;
        }

        payloadOffset = offset;
        return fields;
    }

    /// <summary>A text message: V2 array or V1 object. Refs and payload are raw JSON.</summary>
    public static byte[] Message(int serializerVersion, string joinRefJson, string refJson, string topic, string @event, string payloadJson)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            if (serializerVersion == 1)
            {
                writer.WriteStartObject();
                writer.WriteString("topic", topic);
                writer.WriteString("event", @event);
                writer.WritePropertyName("payload");
                writer.WriteRawValue(payloadJson);
                writer.WritePropertyName("ref");
                writer.WriteRawValue(refJson);
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteStartArray();
                writer.WriteRawValue(joinRefJson);
                writer.WriteRawValue(refJson);
                writer.WriteStringValue(topic);
                writer.WriteStringValue(@event);
                writer.WriteRawValue(payloadJson);
                writer.WriteEndArray();
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The payload of a <c>phx_reply</c>: <c>{"status":status,"response":response}</c>.</summary>
    public static string ReplyPayload(string status, string responseJson)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("status", status);
            writer.WritePropertyName("response");
            writer.WriteRawValue(responseJson);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Binary reply (kind 1). Refs are Elixir's <c>to_string</c> of the value: null becomes "".</summary>
    public static byte[] BinaryReply(string joinRefJson, string refJson, string topic, string status, ReadOnlySpan<byte> payload) =>
        Binary(ReplyKind, payload, RefText(joinRefJson), RefText(refJson), topic, status);

    /// <summary>Binary server push (kind 0): unlike a client push it carries no ref.</summary>
    public static byte[] BinaryPush(string joinRefJson, string topic, string @event, ReadOnlySpan<byte> payload) =>
        Binary(PushKind, payload, RefText(joinRefJson), topic, @event);

    /// <summary>Binary broadcast (kind 2).</summary>
    public static byte[] BinaryBroadcast(string topic, string @event, ReadOnlySpan<byte> payload) =>
        Binary(BroadcastKind, payload, topic, @event);

    private static byte[] Binary(byte kind, ReadOnlySpan<byte> payload, params string[] fields)
    {
        var encoded = fields.Select(Encoding.UTF8.GetBytes).ToArray();
        var length = 1 + encoded.Length + encoded.Sum(f => f.Length) + payload.Length;
        var frame = new byte[length];
        frame[0] = kind;
        var offset = 1 + encoded.Length;
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i].Length > 255)
            {
                throw new ArgumentException($"Binary field {i} is {encoded[i].Length} bytes; Phoenix allows at most 255.", nameof(fields));
            }

            frame[1 + i] = (byte)encoded[i].Length;
            encoded[i].CopyTo(frame, offset);
            offset += encoded[i].Length;
        }

        payload.CopyTo(frame.AsSpan(offset));
        return frame;
    }

    /// <summary>A string as a JSON string token; null as <c>null</c>.</summary>
    public static string JsonString(string? value) => value is null ? Null : JsonSerializer.Serialize(value);

    /// <summary>Elixir's <c>to_string</c> of a ref given as raw JSON: a string's value, "" for null, else the raw text.</summary>
    public static string RefText(string refJson)
    {
        using var document = JsonDocument.Parse(refJson);
        return RefValue(document.RootElement) ?? string.Empty;
    }

    private static string? RefValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => element.GetString(),
        _ => element.GetRawText(),
    };

    private static string RequireString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.String && element.GetString() is { } value
            ? value
            : throw new FormatException($"The {name} is not a string.");
}
