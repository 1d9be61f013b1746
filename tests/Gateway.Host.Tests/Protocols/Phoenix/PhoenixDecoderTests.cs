using Gateway.Host.Protocols.Phoenix;
using static Gateway.Host.Tests.Protocols.Phoenix.PhoenixTestMessages;

namespace Gateway.Host.Tests.Protocols.Phoenix;

public sealed partial class PhoenixDecoderTests
{
    private const PhoenixWireFormat V2 = PhoenixWireFormat.V2;
    private const PhoenixWireFormat V1 = PhoenixWireFormat.V1;

    [Fact]
    public void TryDecode_V2Push_RefsTopicEventAndRawPayload()
    {
        var decoded = Decode(V2, """["3","7","room:lobby","new_msg",{"body":"hi","n":[1,2.5,null]}]""");

        Assert.Equal(new DecodedMessage(3, 7, "room:lobby", "new_msg", "", """{"body":"hi","n":[1,2.5,null]}""", false), decoded);
    }

    [Fact]
    public void TryDecode_V2Broadcast_NullRefsAreMinusOne()
    {
        var decoded = Decode(V2, """[null,null,"room:lobby","presence_diff",{"joins":{},"leaves":{}}]""");

        Assert.Equal(new DecodedMessage(-1, -1, "room:lobby", "presence_diff", "", """{"joins":{},"leaves":{}}""", false), decoded);
    }

    [Fact]
    public void TryDecode_V2ReplyOk_StatusAndRawResponse()
    {
        var decoded = Decode(V2, """["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]""");

        Assert.Equal(new DecodedMessage(1, 1, "room:lobby", "phx_reply", "ok", "{}", false), decoded);
    }

    [Fact]
    public void TryDecode_V2ReplyErrorWithResponseFirst_StatusAndResponse()
    {
        var decoded = Decode(V2, """["1","4","room:lobby","phx_reply",{"response":{"reason":"unauthorized"},"extra":[1],"status":"error"}]""");

        Assert.Equal(new DecodedMessage(1, 4, "room:lobby", "phx_reply", "error", """{"reason":"unauthorized"}""", false), decoded);
    }

    [Fact]
    public void TryDecode_V2ReplyWithoutResponse_EmptyPayload()
    {
        var message = Utf8("""[null,"9","phoenix","phx_reply",{"status":"ok"}]""");
        var decoder = new PhoenixDecoder(V2);

        Assert.True(decoder.TryDecode(message, isBinary: false, out var decoded, out _));
        Assert.True(decoded.IsReply);
        Assert.Equal(0, decoded.Payload.GetOffsetAndLength(message.Length).Length);
        Assert.Equal(9, decoded.Ref);
    }

    [Fact]
    public void TryDecode_V2ReplyWithScalarResponse_RawScalar()
    {
        Assert.Equal("\"a\\\"b\"", Decode(V2, """[null,"9","t","phx_reply",{"status":"ok","response":"a\"b"}]""").Payload);
        Assert.Equal("-1.5e3", Decode(V2, """[null,"9","t","phx_reply",{"status":"ok","response":-1.5e3}]""").Payload);
        Assert.Equal("null", Decode(V2, """[null,"9","t","phx_reply",{"status":"ok","response":null}]""").Payload);
    }

    [Fact]
    public void TryDecode_V2ScalarPayloads_RawText()
    {
        Assert.Equal("\"x\"", Decode(V2, """[null,null,"t","e","x"]""").Payload);
        Assert.Equal("12", Decode(V2, """[null,null,"t","e",12]""").Payload);
        Assert.Equal("true", Decode(V2, """[null,null,"t","e",true]""").Payload);
        Assert.Equal("[]", Decode(V2, """[null,null,"t","e",[]]""").Payload);
    }

    [Fact]
    public void TryDecode_EscapedTopicAndEvent_Unescaped()
    {
        var decoded = Decode(V2, """[null,null,"room:\u00e9","a\"b\\c\/\n\ud83d\ude00",{}]""");

        Assert.Equal("room:é", decoded.Topic);
        Assert.Equal("a\"b\\c/\n😀", decoded.Event);
    }

    [Fact]
    public void TryDecode_EscapedReplyStatus_Unescaped()
    {
        Assert.Equal("ok", Decode(V2, """[null,"1","t","phx_\u0072eply",{"st\u0061tus":"\u006fk"}]""").Status);
    }

    [Fact]
    public void TryDecode_TwoMessagesWithEscapes_SecondDoesNotDisturbAfterFirstIsRead()
    {
        var decoder = new PhoenixDecoder(V2);
        var first = Utf8("""[null,null,"room:\u00e9","\u0065vent",{}]""");
        var second = Utf8("""[null,null,"\u0078","y",{}]""");

        Assert.True(decoder.TryDecode(first, false, out var decoded, out _));
        Assert.Equal(new DecodedMessage(-1, -1, "room:é", "event", "", "{}", false), Flatten(decoded, first));
        Assert.True(decoder.TryDecode(second, false, out decoded, out _));
        Assert.Equal(new DecodedMessage(-1, -1, "x", "y", "", "{}", false), Flatten(decoded, second));
    }

    [Fact]
    public void TryDecode_LongEscapedStrings_ScratchGrows()
    {
        var topic = new string('é', 500);
        var @event = new string('\n', 300);
        var decoded = Decode(V2, $"[null,null,{JsonString(topic)},{JsonString(@event)},{{}}]");

        Assert.Equal(topic, decoded.Topic);
        Assert.Equal(@event, decoded.Event);
    }

    [Fact]
    public void TryDecode_WhitespaceEverywhere_Tolerated()
    {
        var decoded = Decode(V2, " \r\n\t[ \"1\" ,\n \"2\" , \"room:lobby\"\t, \"new_msg\" , { \"body\" : \"hi\" } ] \n");

        Assert.Equal(new DecodedMessage(1, 2, "room:lobby", "new_msg", "", "{ \"body\" : \"hi\" }", false), decoded);
    }

    [Fact]
    public void TryDecode_WhitespaceInReply_ResponseWithoutSurroundingWhitespace()
    {
        var decoded = Decode(V2, "[null, \"1\", \"t\", \"phx_reply\", { \"status\" : \"ok\" , \"response\" : [ 1 , 2 ] } ]");

        Assert.Equal("[ 1 , 2 ]", decoded.Payload);
        Assert.Equal("ok", decoded.Status);
    }

    [Theory]
    [InlineData("null", -1)]
    [InlineData("\"0\"", 0)]
    [InlineData("\"42\"", 42)]
    [InlineData("\"9223372036854775807\"", long.MaxValue)]
    [InlineData("\"\\u0031\\u0032\"", 12)]
    [InlineData("\"9223372036854775808\"", -2)]
    [InlineData("\"99999999999999999999\"", -2)]
    [InlineData("\"007\"", -2)]
    [InlineData("\"-1\"", -2)]
    [InlineData("\"+1\"", -2)]
    [InlineData("\"1.0\"", -2)]
    [InlineData("\" 1\"", -2)]
    [InlineData("\"\"", -2)]
    [InlineData("\"abc\"", -2)]
    [InlineData("\"\\ud800\"", -2)]
    [InlineData("5", -2)]
    [InlineData("-5", -2)]
    public void TryDecode_RefForms_ParsedOrUnknown(string json, long expected)
    {
        var decoded = Decode(V2, $"[{json},{json},\"t\",\"e\",{{}}]");

        Assert.Equal(expected, decoded.JoinRef);
        Assert.Equal(expected, decoded.Ref);
    }

    [Fact]
    public void TryDecode_V1ObjectInServerOrder_Decoded()
    {
        var decoded = Decode(V1, """{"event":"new_msg","payload":{"body":"hi"},"ref":null,"topic":"room:lobby"}""");

        Assert.Equal(new DecodedMessage(-1, -1, "room:lobby", "new_msg", "", """{"body":"hi"}""", false), decoded);
    }

    [Fact]
    public void TryDecode_V1WithJoinRefAndUnknownKeys_Decoded()
    {
        var decoded = Decode(V1, """ { "x" : {"topic":"no"}, "join_ref" : "5", "topic" : "room:\u00e9", "ref" : "6", "event" : "e", "payload" : [1] , "y": null } """);

        Assert.Equal(new DecodedMessage(5, 6, "room:é", "e", "", "[1]", false), decoded);
    }

    [Fact]
    public void TryDecode_V1WithoutRef_RefsAreMinusOne()
    {
        var decoded = Decode(V1, """{"topic":"t","event":"e","payload":{}}""");

        Assert.Equal((-1L, -1L), (decoded.JoinRef, decoded.Ref));
    }

    [Fact]
    public void TryDecode_V1ReplyWithPayloadBeforeEvent_StatusAndResponse()
    {
        var decoded = Decode(V1, """{"payload":{"response":{"a":[1,{"b":2}]},"status":"ok"},"ref":"2","event":"phx_reply","topic":"room:lobby"}""");

        Assert.Equal(new DecodedMessage(-1, 2, "room:lobby", "phx_reply", "ok", """{"a":[1,{"b":2}]}""", false), decoded);
    }

    [Fact]
    public void TryDecode_V2BinaryServerPush_JoinRefNoRefAndPayloadBytes()
    {
        var message = ServerPush(12, "room:lobby", "new_msg", [0x00, 0xFF, 0x7B]);
        Assert.Equal([0, 2, 10, 7, (byte)'1', (byte)'2'], message[..6]);

        var decoded = Decode(V2, message, isBinary: true);

        Assert.Equal(new DecodedMessage(12, -1, "room:lobby", "new_msg", "", "00FF7B", true), decoded);
    }

    [Fact]
    public void TryDecode_V2BinaryServerPushEmptyJoinRef_MinusOne()
    {
        var decoded = Decode(V2, ServerPush(-1, "t", "e", []), isBinary: true);

        Assert.Equal(new DecodedMessage(-1, -1, "t", "e", "", "", true), decoded);
    }

    [Fact]
    public void TryDecode_V2BinaryReply_ReplyWithStatusAndPayloadBytes()
    {
        var message = ServerReply(1, 23, "room:lobby", "ok", [1, 2, 3]);
        Assert.Equal([1, 1, 2, 10, 2, (byte)'1', (byte)'2', (byte)'3'], message[..8]);

        var decoded = Decode(V2, message, isBinary: true);

        Assert.Equal(new DecodedMessage(1, 23, "room:lobby", "phx_reply", "ok", "010203", true), decoded);
    }

    [Fact]
    public void TryDecode_V2BinaryReplyNullJoinRef_MinusOne()
    {
        var decoded = Decode(V2, ServerReply(-1, 5, "phoenix", "error", []), isBinary: true);

        Assert.Equal(new DecodedMessage(-1, 5, "phoenix", "phx_reply", "error", "", true), decoded);
    }

    [Fact]
    public void TryDecode_V2BinaryBroadcast_TopicEventAndPayloadBytes()
    {
        var message = ServerBroadcast("room:é", "tick", [9, 8]);
        Assert.Equal([2, 7, 4], message[..3]);

        var decoded = Decode(V2, message, isBinary: true);

        Assert.Equal(new DecodedMessage(-1, -1, "room:é", "tick", "", "0908", true), decoded);
    }

    [Fact]
    public void TryDecode_PayloadRange_IsASliceOfTheMessage()
    {
        var message = Utf8("""["1","2","t","e",{"k":"v"}]""");
        var decoder = new PhoenixDecoder(V2);

        Assert.True(decoder.TryDecode(message, false, out var decoded, out _));
        Assert.Equal(new Range(17, 26), decoded.Payload);
        Assert.False(decoded.PayloadIsBinary);
        Assert.False(decoded.IsReply);
        Assert.True(decoded.Status.IsEmpty);
    }

    [Fact]
    public void TryDecode_CommonMessagesAfterWarmUp_AllocateNothing()
    {
        var decoder = new PhoenixDecoder(V2);
        byte[][] text =
        [
            Utf8("""["1","2","room:lobby","new_msg",{"body":"hi"}]"""),
            Utf8("""["1","2","room:lobby","phx_reply",{"status":"ok","response":{"a":[1,2]}}]"""),
            Utf8("""[null,null,"room:\u00e9","presence_diff",{"joins":{},"leaves":{}}]"""),
        ];
        var binary = ServerReply(1, 2, "room:lobby", "ok", [1, 2, 3]);
        var sum = 0L;
        for (var round = 0; round < 2; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var message in text)
            {
                Assert.True(decoder.TryDecode(message, false, out var decoded, out _));
                sum += decoded.Ref + decoded.Topic.Length;
            }

            Assert.True(decoder.TryDecode(binary, true, out var fromBinary, out _));
            sum += fromBinary.Ref;
            if (round == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }

        Assert.NotEqual(0, sum);
    }
}
