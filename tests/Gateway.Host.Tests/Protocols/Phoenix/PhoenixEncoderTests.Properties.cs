using System.Buffers;
using System.Text.Json;
using CsCheck;
using Gateway.Host.Protocols.Phoenix;
using static Gateway.Host.Tests.Protocols.Phoenix.PhoenixTestMessages;

namespace Gateway.Host.Tests.Protocols.Phoenix;

public sealed partial class PhoenixEncoderTests
{
    private static readonly Gen<PhoenixWireFormat> s_format = Gen.OneOf(Gen.Const(PhoenixWireFormat.V2), Gen.Const(PhoenixWireFormat.V1));

    private static byte[] WritePush(PhoenixWireFormat format, PhoenixModel m, bool stingy = false)
    {
        if (stingy)
        {
            var writer = new StingyBufferWriter();
            PhoenixEncoder.WritePush(writer, format, m.JoinRef, m.Ref, m.Topic, m.Event, Utf8(m.PayloadJson));
            return writer.Written;
        }

        var output = new ArrayBufferWriter<byte>();
        PhoenixEncoder.WritePush(output, format, m.JoinRef, m.Ref, m.Topic, m.Event, Utf8(m.PayloadJson));
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void WritePush_GeneratedMessages_DecodeBackToTheSameMessage()
    {
        Gen.Select(PhoenixGen.Message, s_format).Sample((m, format) =>
        {
            var written = WritePush(format, m);

            Assert.Equal(new DecodedMessage(m.JoinRef, m.Ref, m.Topic, m.Event, "", m.PayloadJson, false), Decode(format, written));
            Assert.Equal(written, WritePush(format, m, stingy: true));
        }, iter: 2000);
    }

    [Fact]
    public void WritePush_EmptyPayload_DecodesToEmptyObject()
    {
        Gen.Select(PhoenixGen.Message, s_format).Sample((m, format) =>
        {
            Assert.Equal("{}", Decode(format, WritePush(format, m with { PayloadJson = "" })).Payload);
        }, iter: 200);
    }

    [Fact]
    public void WritePush_GeneratedMessages_SystemTextJsonReadsTheSameValues()
    {
        Gen.Select(PhoenixGen.Message, s_format).Sample((m, format) =>
        {
            using var document = JsonDocument.Parse(WritePush(format, m));
            var root = document.RootElement;
            using var payload = JsonDocument.Parse(m.PayloadJson);
            JsonElement joinRef, @ref, topic, @event, actualPayload;
            if (format == PhoenixWireFormat.V2)
            {
                Assert.Equal(JsonValueKind.Array, root.ValueKind);
                Assert.Equal(5, root.GetArrayLength());
                (joinRef, @ref, topic, @event, actualPayload) = (root[0], root[1], root[2], root[3], root[4]);
            }
            else
            {
                Assert.Equal(JsonValueKind.Object, root.ValueKind);
                Assert.Equal(["topic", "event", "payload", "ref", "join_ref"], root.EnumerateObject().Select(p => p.Name));
                (joinRef, @ref, topic, @event, actualPayload) = (root.GetProperty("join_ref"), root.GetProperty("ref"), root.GetProperty("topic"), root.GetProperty("event"), root.GetProperty("payload"));
            }

            AssertRef(m.JoinRef, joinRef);
            AssertRef(m.Ref, @ref);
            Assert.Equal(m.Topic, topic.GetString());
            Assert.Equal(m.Event, @event.GetString());
            Assert.True(JsonElement.DeepEquals(payload.RootElement, actualPayload), $"{m.PayloadJson} became {actualPayload.GetRawText()}");
        }, iter: 2000);
    }

    private static void AssertRef(long expected, JsonElement actual)
    {
        if (expected < 0)
        {
            Assert.Equal(JsonValueKind.Null, actual.ValueKind);
        }
        else
        {
            Assert.Equal(JsonValueKind.String, actual.ValueKind);
            Assert.Equal(RefText(expected), actual.GetString());
        }
    }

    [Fact]
    public void WriteBinaryPush_GeneratedMessages_ServerReadsTheSameParts()
    {
        Gen.Select(PhoenixGen.BinaryMessage, Gen.Bool).Sample((m, stingy) =>
        {
            var output = new ArrayBufferWriter<byte>();
            PhoenixEncoder.WriteBinaryPush(output, m.JoinRef, m.Ref, m.Topic, m.Event, m.BinaryPayload);
            var frame = output.WrittenSpan.ToArray();

            var (joinRef, @ref, topic, @event, payload) = ReadClientBinaryPush(frame);
            Assert.Equal((RefText(m.JoinRef), RefText(m.Ref), m.Topic, m.Event), (joinRef, @ref, topic, @event));
            Assert.Equal(m.BinaryPayload, payload);

            var writer = new StingyBufferWriter();
            PhoenixEncoder.WriteBinaryPush(writer, m.JoinRef, m.Ref, m.Topic, m.Event, m.BinaryPayload);
            Assert.Equal(frame, writer.Written);
        }, iter: 1000);
    }

    [Fact]
    public void FitsBinaryHeader_GeneratedLongTopics_TrueExactlyWhenBothFit255Utf8Bytes()
    {
        var longText = PhoenixGen.Text.Array[10, 40].Select(string.Concat);
        Gen.Select(longText, longText).Sample((topic, @event) =>
        {
            var fits = System.Text.Encoding.UTF8.GetByteCount(topic) <= 255 && System.Text.Encoding.UTF8.GetByteCount(@event) <= 255;

            Assert.Equal(fits, PhoenixEncoder.FitsBinaryHeader(1, 2, topic, @event));
            var output = new ArrayBufferWriter<byte>();
            if (fits)
            {
                PhoenixEncoder.WriteBinaryPush(output, 1, 2, topic, @event, []);
            }
            else
            {
                Assert.Throws<ArgumentException>(() => PhoenixEncoder.WriteBinaryPush(output, 1, 2, topic, @event, []));
            }
        }, iter: 300);
    }
}
