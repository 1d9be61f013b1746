using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.Host.Protocols.Phoenix;

namespace Gateway.Host.Tests.Protocols.Phoenix;

/// <summary>A message as the tests mean it: what an encoder is given and what the decoder must give back.</summary>
/// <param name="PayloadJson">JSON text for text frames; ignored for binary ones (see <see cref="BinaryPayload"/>).</param>
internal sealed record PhoenixModel(long JoinRef, long Ref, string Topic, string Event, string PayloadJson, byte[] BinaryPayload)
{
    public override string ToString()
        => $"join_ref {JoinRef}, ref {Ref}, topic {JsonSerializer.Serialize(Topic)}, event {JsonSerializer.Serialize(Event)}, payload {PayloadJson}, binary {Convert.ToHexString(BinaryPayload)}";
}

/// <summary>A decoded message flattened into comparable values: text payloads as text, binary ones in hex.</summary>
internal sealed record DecodedMessage(long JoinRef, long Ref, string Topic, string Event, string Status, string Payload, bool PayloadIsBinary);

/// <summary>Builders for what a Phoenix server sends, written from the wire format independently of the decoder, and a reader for what the client sends.</summary>
internal static class PhoenixTestMessages
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static string RefText(long value) => value < 0 ? "" : value.ToString(CultureInfo.InvariantCulture);

    public static string JsonRef(long value) => value < 0 ? "null" : "\"" + RefText(value) + "\"";

    /// <summary>A JSON string literal as System.Text.Json writes it (non-ASCII and HTML-sensitive characters as \u escapes).</summary>
    public static string JsonString(string value) => JsonSerializer.Serialize(value);

    public static DecodedMessage Flatten(PhoenixMessage message, ReadOnlySpan<byte> bytes)
    {
        var payload = bytes[message.Payload];
        return new DecodedMessage(
            message.JoinRef,
            message.Ref,
            Encoding.UTF8.GetString(message.Topic),
            Encoding.UTF8.GetString(message.Event),
            Encoding.UTF8.GetString(message.Status),
            message.PayloadIsBinary ? Convert.ToHexString(payload) : Encoding.UTF8.GetString(payload),
            message.PayloadIsBinary);
    }

    public static DecodedMessage Decode(PhoenixWireFormat format, byte[] message, bool isBinary = false)
    {
        var decoder = new PhoenixDecoder(format);
        Assert.True(decoder.TryDecode(message, isBinary, out var decoded, out var error), error);
        Assert.Null(error);
        return Flatten(decoded, message);
    }

    public static DecodedMessage Decode(PhoenixWireFormat format, string message) => Decode(format, Utf8(message));

    public static string ErrorOf(PhoenixWireFormat format, byte[] message, bool isBinary = false)
    {
        var decoder = new PhoenixDecoder(format);
        Assert.False(decoder.TryDecode(message, isBinary, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
        return error;
    }

    public static string ErrorOf(PhoenixWireFormat format, string message) => ErrorOf(format, Utf8(message));

    /// <summary>Kind 0 as the server writes it: <c>[0][join_ref size][topic size][event size]</c>; pushes from the server carry no ref.</summary>
    public static byte[] ServerPush(long joinRef, string topic, string @event, byte[] payload)
    {
        byte[] joinRefBytes = Utf8(RefText(joinRef)), topicBytes = Utf8(topic), eventBytes = Utf8(@event);
        return [0, (byte)joinRefBytes.Length, (byte)topicBytes.Length, (byte)eventBytes.Length, .. joinRefBytes, .. topicBytes, .. eventBytes, .. payload];
    }

    /// <summary>Kind 1: <c>[1][join_ref size][ref size][topic size][status size]</c>.</summary>
    public static byte[] ServerReply(long joinRef, long @ref, string topic, string status, byte[] payload)
    {
        byte[] joinRefBytes = Utf8(RefText(joinRef)), refBytes = Utf8(RefText(@ref)), topicBytes = Utf8(topic), statusBytes = Utf8(status);
        return [1, (byte)joinRefBytes.Length, (byte)refBytes.Length, (byte)topicBytes.Length, (byte)statusBytes.Length, .. joinRefBytes, .. refBytes, .. topicBytes, .. statusBytes, .. payload];
    }

    /// <summary>Kind 2: <c>[2][topic size][event size]</c>.</summary>
    public static byte[] ServerBroadcast(string topic, string @event, byte[] payload)
    {
        byte[] topicBytes = Utf8(topic), eventBytes = Utf8(@event);
        return [2, (byte)topicBytes.Length, (byte)eventBytes.Length, .. topicBytes, .. eventBytes, .. payload];
    }

    /// <summary>A text reply as the server writes it, through System.Text.Json (escaping non-ASCII), optionally indented.</summary>
    public static byte[] ServerTextReply(PhoenixWireFormat format, long joinRef, long @ref, string topic, string status, string? responseJson, bool indented)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            void Payload()
            {
                writer.WriteStartObject();
                writer.WriteString("status", status);
                if (responseJson is not null)
                {
                    writer.WritePropertyName("response");
                    writer.WriteRawValue(responseJson);
                }

                writer.WriteEndObject();
            }

            WriteServerMessage(writer, format, joinRef, @ref, topic, PhoenixEvents.Reply, Payload);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A text push or broadcast as the server writes it, through System.Text.Json, optionally indented.</summary>
    public static byte[] ServerText(PhoenixWireFormat format, PhoenixModel model, bool indented)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            WriteServerMessage(writer, format, model.JoinRef, model.Ref, model.Topic, model.Event, () => writer.WriteRawValue(model.PayloadJson));
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteServerMessage(Utf8JsonWriter writer, PhoenixWireFormat format, long joinRef, long @ref, string topic, string @event, Action payload)
    {
        void Ref(long value)
        {
            if (value < 0)
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteStringValue(RefText(value));
            }
        }

        if (format == PhoenixWireFormat.V2)
        {
            writer.WriteStartArray();
            Ref(joinRef);
            Ref(@ref);
            writer.WriteStringValue(topic);
            writer.WriteStringValue(@event);
            payload();
            writer.WriteEndArray();
            return;
        }

        // The v1 server writes the payload first and no join_ref; any order must do.
        writer.WriteStartObject();
        writer.WritePropertyName("payload");
        payload();
        writer.WritePropertyName("ref");
        Ref(@ref);
        writer.WriteString("event", @event);
        writer.WriteString("topic", topic);
        if (joinRef >= 0)
        {
            writer.WritePropertyName("join_ref");
            Ref(joinRef);
        }

        writer.WriteEndObject();
    }

    /// <summary>Reads a client binary push the way the server does: <c>[0][join_ref size][ref size][topic size][event size]</c>, the parts, the payload.</summary>
    public static (string JoinRef, string Ref, string Topic, string Event, byte[] Payload) ReadClientBinaryPush(byte[] frame)
    {
        Assert.Equal(0, frame[0]);
        var offset = 5;
        string Part(int size)
        {
            var text = Encoding.UTF8.GetString(frame, offset, size);
            offset += size;
            return text;
        }

        var joinRef = Part(frame[1]);
        var @ref = Part(frame[2]);
        var topic = Part(frame[3]);
        var @event = Part(frame[4]);
        return (joinRef, @ref, topic, @event, frame[offset..]);
    }
}

/// <summary>A buffer writer that hands out exactly the size asked for, so every chunk boundary of an encoder is exercised.</summary>
internal sealed class StingyBufferWriter : IBufferWriter<byte>
{
    private readonly List<byte> _written = [];
    private byte[] _current = [];

    public byte[] Written => [.. _written];

    public void Advance(int count)
    {
        Assert.InRange(count, 0, _current.Length);
        _written.AddRange(_current.AsSpan(0, count));
        _current = [];
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => _current = new byte[Math.Max(sizeHint, 1)];

    public Span<byte> GetSpan(int sizeHint = 0) => _current = new byte[Math.Max(sizeHint, 1)];
}
