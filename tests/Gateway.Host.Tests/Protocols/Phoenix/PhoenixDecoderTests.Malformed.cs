using Gateway.Host.Protocols.Phoenix;
using static Gateway.Host.Tests.Protocols.Phoenix.PhoenixTestMessages;

namespace Gateway.Host.Tests.Protocols.Phoenix;

public sealed partial class PhoenixDecoderTests
{
    [Theory]
    [InlineData("", "empty message")]
    [InlineData(" \r\n ", "empty message")]
    [InlineData("{}", "expected a JSON array of 5 elements")]
    [InlineData("\"x\"", "expected a JSON array of 5 elements")]
    [InlineData("[]", "expected a JSON array of 5 elements, got fewer")]
    [InlineData("""[null,null,"t","e"]""", "expected a JSON array of 5 elements, got fewer")]
    [InlineData("""[null,null,"t","e",{},1]""", "expected a JSON array of 5 elements, got more")]
    [InlineData("""[null,null,1,"e",{}]""", "topic is not a JSON string")]
    [InlineData("""[null,null,"t",null,{}]""", "event is not a JSON string")]
    [InlineData("""[null,null,"t",["e"],{}]""", "event is not a JSON string")]
    [InlineData("""[{},null,"t","e",{}]""", "join_ref is neither a string nor null")]
    [InlineData("""[null,true,"t","e",{}]""", "ref is neither a string nor null")]
    [InlineData("""[null,"1","t","phx_reply",{"response":{}}]""", "reply without status")]
    [InlineData("""[null,"1","t","phx_reply",{"status":""}]""", "reply without status")]
    [InlineData("""[null,"1","t","phx_reply",[]]""", "reply payload is not a JSON object")]
    [InlineData("""[null,"1","t","phx_reply","ok"]""", "reply payload is not a JSON object")]
    [InlineData("""[null,"1","t","phx_reply",{"status":1}]""", "reply status is not a JSON string")]
    [InlineData("""[null,"1","t","phx_reply",{"status":"ok","status":"error"}]""", "duplicate key \"status\" in the reply payload")]
    [InlineData("""[null,"1","t","phx_reply",{"status":"ok","response":1,"response":2}]""", "duplicate key \"response\" in the reply payload")]
    [InlineData("""[null,null,"\ud800","e",{}]""", "topic has an invalid escape or invalid UTF-8")]
    [InlineData("""[null,null,"t","\udc00x",{}]""", "event has an invalid escape or invalid UTF-8")]
    public void TryDecode_MalformedV2Text_FalseWithReason(string message, string expected)
    {
        Assert.Equal(expected, ErrorOf(PhoenixWireFormat.V2, message));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""[null,null,"t","e",{"a":""")]
    [InlineData("""[null,null,"t","e",{}""")]
    [InlineData("""[null,null,"t","e",{}] x""")]
    [InlineData("""[null,null,"t","e",{}][]""")]
    [InlineData("""[null,null,"t","e",{},]""")]
    [InlineData("""[null,null,'t',"e",{}]""")]
    [InlineData("""[null,null,"t","e",{a:1}]""")]
    [InlineData("""[null,null,"t","e",{}] // comment""")]
    [InlineData("""[null,null,"t\x","e",{}]""")]
    [InlineData("[null,null,\"t\u0001\",\"e\",{}]")]
    [InlineData("""[null,null,"t","e",01]""")]
    [InlineData("""[null,null,"t","e",NaN]""")]
    public void TryDecode_NotJson_FalseWithJsonReason(string message)
    {
        Assert.StartsWith("not valid JSON: ", ErrorOf(PhoenixWireFormat.V2, message), StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_DeeplyNestedPayload_FalseWithJsonReason()
    {
        var message = "[null,null,\"t\",\"e\"," + new string('[', 10_000) + new string(']', 10_000) + "]";

        Assert.StartsWith("not valid JSON: ", ErrorOf(PhoenixWireFormat.V2, message), StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_PayloadNestedWithinTheDefaultDepth_Accepted()
    {
        var message = "[null,null,\"t\",\"e\"," + new string('[', 60) + new string(']', 60) + "]";

        Assert.Equal(120, Decode(PhoenixWireFormat.V2, message).Payload.Length);
    }

    [Fact]
    public void TryDecode_InvalidUtf8InTopic_False()
    {
        byte[] message = [.. Utf8("[null,null,\"a"), 0xFF, .. Utf8("\",\"e\",{}]")];

        Assert.Equal("topic is not valid UTF-8", ErrorOf(PhoenixWireFormat.V2, message));
    }

    [Fact]
    public void TryDecode_TruncatedUtf8InEvent_False()
    {
        byte[] message = [.. Utf8("[null,null,\"t\",\"\u00e9"), .. Utf8("\u00e9")[..1], .. Utf8("\",{}]")];

        Assert.Equal("event is not valid UTF-8", ErrorOf(PhoenixWireFormat.V2, message));
    }

    [Theory]
    [InlineData("""[null,null,"t","e",{}]""", "expected a JSON object with topic, event, payload and ref")]
    [InlineData("""{"event":"e","payload":{},"ref":null}""", "v1 message without \"topic\"")]
    [InlineData("""{"topic":"t","payload":{},"ref":null}""", "v1 message without \"event\"")]
    [InlineData("""{"topic":"t","event":"e","ref":null}""", "v1 message without \"payload\"")]
    [InlineData("""{"topic":"t","topic":"u","event":"e","payload":{}}""", "duplicate key \"topic\"")]
    [InlineData("""{"topic":"t","event":"e","payload":{},"ref":"1","ref":"2"}""", "duplicate key \"ref\"")]
    [InlineData("""{"topic":"t","event":"e","payload":{},"join_ref":[]}""", "join_ref is neither a string nor null")]
    [InlineData("""{"topic":1,"event":"e","payload":{}}""", "topic is not a JSON string")]
    [InlineData("""{"topic":"t","event":"phx_reply","payload":{"response":null}}""", "reply without status")]
    public void TryDecode_MalformedV1Text_FalseWithReason(string message, string expected)
    {
        Assert.Equal(expected, ErrorOf(PhoenixWireFormat.V1, message));
    }

    [Theory]
    [InlineData("""{"\ud800":1,"topic":"t","event":"e","payload":{}}""")]
    [InlineData("""{"topic":"t","event":"phx_reply","payload":{"\udc00x":1,"status":"ok"}}""")]
    public void TryDecode_KeyWithUnpairedSurrogateEscape_FalseWithReasonNotAnException(string message)
    {
        Assert.Equal("a key has an invalid escape", ErrorOf(PhoenixWireFormat.V1, message));
    }

    [Fact]
    public void TryDecode_BinaryFrameInV1_False()
    {
        Assert.Equal("binary frames are not part of the v1 serializer", ErrorOf(PhoenixWireFormat.V1, ServerBroadcast("t", "e", []), isBinary: true));
    }

    [Theory]
    [InlineData("", "empty binary message")]
    [InlineData("03", "unknown binary message kind 3")]
    [InlineData("FF000000", "unknown binary message kind 255")]
    [InlineData("00", "binary push truncated: the header needs 4 bytes")]
    [InlineData("000001", "binary push truncated: the header needs 4 bytes")]
    [InlineData("00010000", "binary push truncated: join_ref runs past the end")]
    [InlineData("0000020074", "binary push truncated: topic runs past the end")]
    [InlineData("000001027465", "binary push truncated: event runs past the end")]
    [InlineData("01000000", "binary reply truncated: the header needs 5 bytes")]
    [InlineData("010102000031", "binary reply truncated: ref runs past the end")]
    [InlineData("0100000502746F", "binary reply truncated: topic runs past the end")]
    [InlineData("010000010274", "binary reply truncated: status runs past the end")]
    [InlineData("01000001007478", "reply without status")]
    [InlineData("0100000102FF6F6B", "topic is not valid UTF-8")]
    [InlineData("0100000102746FC3", "reply status is not valid UTF-8")]
    [InlineData("0201", "binary broadcast truncated: the header needs 3 bytes")]
    [InlineData("020100", "binary broadcast truncated: topic runs past the end")]
    [InlineData("0201057465", "binary broadcast truncated: event runs past the end")]
    [InlineData("02010174C0", "event is not valid UTF-8")]
    [InlineData("020101FF65", "topic is not valid UTF-8")]
    public void TryDecode_MalformedBinary_FalseWithReason(string hex, string expected)
    {
        Assert.Equal(expected, ErrorOf(PhoenixWireFormat.V2, Convert.FromHexString(hex), isBinary: true));
    }

    [Fact]
    public void TryDecode_BinaryPushOrBroadcastWithReplyEvent_False()
    {
        Assert.Equal("binary push cannot carry phx_reply", ErrorOf(PhoenixWireFormat.V2, ServerPush(1, "t", "phx_reply", []), isBinary: true));
        Assert.Equal("binary broadcast cannot carry phx_reply", ErrorOf(PhoenixWireFormat.V2, ServerBroadcast("t", "phx_reply", []), isBinary: true));
    }

    [Fact]
    public void TryDecode_AfterAFailure_NextMessageDecodes()
    {
        var decoder = new PhoenixDecoder(PhoenixWireFormat.V2);
        var good = Utf8("""[null,null,"\u0074","e",{}]""");

        Assert.False(decoder.TryDecode(Utf8("""[null,null,"\u0074",1,{}]"""), false, out var decoded, out var error));
        Assert.Equal("event is not a JSON string", error);
        Assert.True(decoded.Topic.IsEmpty);
        Assert.True(decoder.TryDecode(good, false, out decoded, out error));
        Assert.Null(error);
        Assert.Equal("t", Flatten(decoded, good).Topic);
    }
}
