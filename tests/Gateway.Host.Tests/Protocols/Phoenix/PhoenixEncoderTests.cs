using System.Buffers;
using System.Text;
using Gateway.Host.Protocols.Phoenix;
using static Gateway.Host.Tests.Protocols.Phoenix.PhoenixTestMessages;

namespace Gateway.Host.Tests.Protocols.Phoenix;

public sealed partial class PhoenixEncoderTests
{
    private static string Push(PhoenixWireFormat format, long joinRef, long @ref, string topic, string @event, string payloadJson)
    {
        var output = new ArrayBufferWriter<byte>();
        PhoenixEncoder.WritePush(output, format, joinRef, @ref, topic, @event, Utf8(payloadJson));
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static byte[] BinaryPush(long joinRef, long @ref, string topic, string @event, byte[] payload)
    {
        var output = new ArrayBufferWriter<byte>();
        PhoenixEncoder.WriteBinaryPush(output, joinRef, @ref, topic, @event, payload);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void WritePush_V2Join_ArrayWithStringRefs()
    {
        Assert.Equal("""["1","1","room:lobby","phx_join",{"token":"x"}]""", Push(PhoenixWireFormat.V2, 1, 1, "room:lobby", PhoenixEvents.Join, """{"token":"x"}"""));
    }

    [Fact]
    public void WritePush_V2Heartbeat_NullJoinRefAsPhoenixJsSendsIt()
    {
        Assert.Equal("""[null,"7","phoenix","heartbeat",{}]""", Push(PhoenixWireFormat.V2, -1, 7, PhoenixEvents.PhoenixTopic, PhoenixEvents.Heartbeat, "{}"));
    }

    [Fact]
    public void WritePush_V1Heartbeat_ObjectWithAllFiveKeys()
    {
        Assert.Equal("""{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"7","join_ref":null}""", Push(PhoenixWireFormat.V1, -1, 7, "phoenix", "heartbeat", "{}"));
    }

    [Fact]
    public void WritePush_V1Push_RefsAsStrings()
    {
        Assert.Equal("""{"topic":"t","event":"e","payload":[1],"ref":"9223372036854775807","join_ref":"0"}""", Push(PhoenixWireFormat.V1, 0, long.MaxValue, "t", "e", "[1]"));
    }

    [Theory]
    [InlineData(false, """[null,null,"t","e",{}]""")]
    [InlineData(true, """{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":null}""")]
    public void WritePush_EmptyPayload_EmptyObject(bool v1, string expected)
    {
        Assert.Equal(expected, Push(v1 ? PhoenixWireFormat.V1 : PhoenixWireFormat.V2, -1, -1, "t", "e", ""));
    }

    [Fact]
    public void WritePush_TopicNeedingEscapes_QuotesBackslashesAndControlsEscapedRestInUtf8()
    {
        var written = Push(PhoenixWireFormat.V2, -1, -1, "a\"b\\c\n\r\t\b\f\u0001\u001f\u007f/é😀<>&'", "e", "{}");

        Assert.Equal("[null,null,\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\u007f/é😀<>&'\",\"e\",{}]", written);
    }

    [Fact]
    public void WritePush_StingyWriterAndLongEscapedTopic_SameBytesAsArrayWriter()
    {
        var topic = string.Concat(Enumerable.Repeat("é\"😀\u0002abc", 200));
        var stingy = new StingyBufferWriter();
        PhoenixEncoder.WritePush(stingy, PhoenixWireFormat.V1, 1, 2, topic, topic, "[true]"u8);

        Assert.Equal(Utf8(Push(PhoenixWireFormat.V1, 1, 2, topic, topic, "[true]")), stingy.Written);
    }

    [Fact]
    public void WritePush_LoneSurrogate_Throws()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Equal("topic", Assert.Throws<ArgumentException>(() => PhoenixEncoder.WritePush(output, PhoenixWireFormat.V2, -1, -1, "a\ud800", "e", default)).ParamName);
        Assert.Equal("event", Assert.Throws<ArgumentException>(() => PhoenixEncoder.WritePush(output, PhoenixWireFormat.V2, -1, -1, "t", "\udc00b", default)).ParamName);
    }

    [Fact]
    public void WritePush_RefBelowMinusOne_Throws()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentOutOfRangeException>(() => PhoenixEncoder.WritePush(output, PhoenixWireFormat.V2, -2, 1, "t", "e", default));
        Assert.Throws<ArgumentOutOfRangeException>(() => PhoenixEncoder.WritePush(output, PhoenixWireFormat.V2, 1, long.MinValue, "t", "e", default));
        Assert.Throws<ArgumentOutOfRangeException>(() => PhoenixEncoder.WriteBinaryPush(output, 1, -2, "t", "e", default));
    }

    [Fact]
    public void WriteBinaryPush_Join_KindSizesPartsThenPayload()
    {
        byte[] expected = [0, 1, 2, 10, 8, .. "1"u8, .. "12"u8, .. "room:lobby"u8, .. "phx_join"u8, 0xDE, 0xAD];

        Assert.Equal(expected, BinaryPush(1, 12, "room:lobby", "phx_join", [0xDE, 0xAD]));
    }

    [Fact]
    public void WriteBinaryPush_NullRefs_EmptyParts()
    {
        Assert.Equal([0, 0, 0, 1, 1, (byte)'t', (byte)'e'], BinaryPush(-1, -1, "t", "e", []));
    }

    [Fact]
    public void WriteBinaryPush_NonAsciiTopic_SizeInUtf8Bytes()
    {
        var frame = BinaryPush(-1, 3, "é😀", "e", [1]);

        var (joinRef, @ref, topic, @event, payload) = ReadClientBinaryPush(frame);

        Assert.Equal(6, frame[3]);
        Assert.Equal(("", "3", "é😀", "e"), (joinRef, @ref, topic, @event));
        Assert.Equal([1], payload);
    }

    [Fact]
    public void WriteBinaryPush_255ByteTopic_Fits()
    {
        var topic = new string('a', 253) + "é";

        Assert.True(PhoenixEncoder.FitsBinaryHeader(long.MaxValue, long.MaxValue, topic, topic));
        Assert.Equal(255, BinaryPush(long.MaxValue, long.MaxValue, topic, topic, [])[3]);
    }

    [Theory]
    [InlineData(256, 0)]
    [InlineData(0, 256)]
    public void WriteBinaryPush_256ByteTopicOrEvent_DoesNotFitAndThrows(int topicLength, int eventLength)
    {
        var topic = new string('é', topicLength / 2);
        var @event = new string('x', eventLength);

        Assert.False(PhoenixEncoder.FitsBinaryHeader(1, 1, topic, @event));
        var ex = Assert.Throws<ArgumentException>(() => BinaryPush(1, 1, topic, @event, []));
        Assert.Equal(topicLength > 0 ? "topic" : "event", ex.ParamName);
    }

    [Fact]
    public void FitsBinaryHeader_LoneSurrogateOrBadRef_False()
    {
        Assert.False(PhoenixEncoder.FitsBinaryHeader(1, 1, "\ud83d", "e"));
        Assert.False(PhoenixEncoder.FitsBinaryHeader(1, 1, "t", "x\ude00"));
        Assert.False(PhoenixEncoder.FitsBinaryHeader(-2, 1, "t", "e"));
        Assert.True(PhoenixEncoder.FitsBinaryHeader(-1, -1, "", ""));
        Assert.Throws<ArgumentException>(() => BinaryPush(1, 1, "\ud83d", "e", []));
    }

    [Fact]
    public void WriteBinaryPush_LargePayload_WrittenWhole()
    {
        var payload = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();

        Assert.Equal(payload, ReadClientBinaryPush(BinaryPush(1, 2, "t", "e", payload)).Payload);
    }

    [Fact]
    public void WritePush_IntoAReusedWriter_AllocatesNothing()
    {
        var output = new ArrayBufferWriter<byte>(4096);
        for (var round = 0; round < 2; round++)
        {
            output.ResetWrittenCount();
            var before = GC.GetAllocatedBytesForCurrentThread();
            PhoenixEncoder.WritePush(output, PhoenixWireFormat.V2, 1, 2, "room:lobby", "new_msg", """{"body":"hi"}"""u8);
            PhoenixEncoder.WritePush(output, PhoenixWireFormat.V1, -1, 3, "phoenix", "heartbeat", "{}"u8);
            PhoenixEncoder.WriteBinaryPush(output, 1, 4, "room:é", "upload", [1, 2, 3]);
            if (round == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
    }
}

