using System.Buffers;
using System.Text;
using Gateway.Host.Protocols.Stomp;

namespace Gateway.Host.Tests.Protocols.Stomp;

public sealed class StompEncoderTests
{
    private static string Written(StompCommand command, (string Name, string Value)[] headers, string body = "")
    {
        var writer = new ArrayBufferWriter<byte>();
        StompEncoder.Write(writer, command, headers.Select(h => KeyValuePair.Create(h.Name, h.Value)).ToArray(), Encoding.UTF8.GetBytes(body));
        return Encoding.UTF8.GetString(writer.WrittenSpan);
    }

    [Fact]
    public void Write_Send_EscapesHeadersAndStatesContentLength()
        => Assert.Equal(
            "SEND\ndestination:/queue/a\\cb\nnote:x\\\\y\\nz\\r\ncontent-type:text/plain\ncontent-length:5\n\nhello\0",
            Written(StompCommand.Send, [("destination", "/queue/a:b"), ("note", "x\\y\nz\r"), ("content-type", "text/plain")], "hello"));

    [Fact]
    public void Write_SendWithNulsInTheBody_ContentLengthCountsThem()
    {
        var writer = new ArrayBufferWriter<byte>();
        StompEncoder.Write(writer, StompCommand.Send, [new("destination", "/q")], [0, 1, 0]);

        Assert.Equal([.. "SEND\ndestination:/q\ncontent-length:3\n\n"u8, 0, 1, 0, 0], writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Write_Connect_HeadersNotEscaped()
        => Assert.Equal(
            "CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:a:b\\c\nheart-beat:10000,10000\n\n\0",
            Written(StompCommand.Connect, [("accept-version", "1.2"), ("host", "/"), ("login", "guest"), ("passcode", "a:b\\c"), ("heart-beat", "10000,10000")]));

    [Fact]
    public void Write_Stomp_HeadersEscapedAsTheSpecificationSays()
        => Assert.Equal("STOMP\naccept-version:1.2\nhost:a\\cb\n\n\0", Written(StompCommand.Stomp, [("accept-version", "1.2"), ("host", "a:b")]));

    [Theory]
    [InlineData("login", "a\nb")]
    [InlineData("login", "a\rb")]
    [InlineData("lo:gin", "a")]
    public void Write_ConnectHeaderThatCannotBeSentUnescaped_Throws(string name, string value)
        => Assert.Throws<ArgumentException>(() => Written(StompCommand.Connect, [(name, value)]));

    [Theory]
    [InlineData(nameof(StompCommand.Subscribe))]
    [InlineData(nameof(StompCommand.Ack))]
    [InlineData(nameof(StompCommand.Disconnect))]
    public void Write_BodyOnAFrameOtherThanSend_Throws(string command)
        => Assert.Throws<ArgumentException>(() => Written(Enum.Parse<StompCommand>(command), [], "x"));

    [Theory]
    [InlineData(nameof(StompCommand.Message))]
    [InlineData(nameof(StompCommand.Connected))]
    [InlineData(nameof(StompCommand.None))]
    public void Write_NotAClientCommand_Throws(string command)
        => Assert.Throws<ArgumentException>(() => Written(Enum.Parse<StompCommand>(command), []));

    [Theory]
    [InlineData("content-length", "3")]
    [InlineData("", "x")]
    [InlineData("a\0", "x")]
    [InlineData("a", "\0")]
    public void Write_HeaderThatCannotBeSent_Throws(string name, string value)
        => Assert.ThrowsAny<ArgumentException>(() => Written(StompCommand.Send, [(name, value)]));

    [Fact]
    public void Write_LoneSurrogate_Throws()
        => Assert.ThrowsAny<ArgumentException>(() => Written(StompCommand.Send, [("a", "x" + '\ud800')]));

    [Fact]
    public void Write_Subscribe_NoContentLength()
        => Assert.Equal("SUBSCRIBE\nid:sub-0\ndestination:/topic/x\nack:client-individual\n\n\0", Written(StompCommand.Subscribe, [("id", "sub-0"), ("destination", "/topic/x"), ("ack", "client-individual")]));

    [Fact]
    public void WriteHeartBeat_WritesOneLineFeed()
    {
        var writer = new ArrayBufferWriter<byte>();
        StompEncoder.WriteHeartBeat(writer);

        Assert.Equal("\n"u8.ToArray(), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Header_WireFormValueOfAReceivedMessage_CopiedIntoTheAck()
    {
        using var parser = new StompParser(4096);
        var reader = parser.Read("MESSAGE\nsubscription:0\nack:a\\cb\\\\1\n\n\0"u8);
        Assert.Equal(StompReadStatus.Frame, reader.Next(out var message));
        Assert.True(message.TryGetHeader("ack"u8, out var ack));

        var writer = new ArrayBufferWriter<byte>();
        var frame = new StompFrameWriter(writer, StompCommand.Ack);
        frame.Header("id"u8, ack);
        frame.Header("receipt", 42);
        frame.End();

        Assert.Equal("ACK\nid:a\\cb\\\\1\nreceipt:42\n\n\0", Encoding.UTF8.GetString(writer.WrittenSpan));
    }

    [Theory]
    [InlineData("a:b")]
    [InlineData("a\\tb")]
    [InlineData("a\\")]
    [InlineData("a\nb")]
    public void Header_WireFormThatIsNotEscapedProperly_Throws(string wireValue)
    {
        var writer = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() =>
        {
            var frame = new StompFrameWriter(writer, StompCommand.Ack);
            frame.Header("id"u8, Encoding.UTF8.GetBytes(wireValue));
        });
    }

    [Fact]
    public void End_Twice_Throws()
    {
        var writer = new ArrayBufferWriter<byte>();

        Assert.Throws<InvalidOperationException>(() =>
        {
            var frame = new StompFrameWriter(writer, StompCommand.Disconnect);
            frame.End();
            frame.End();
        });
    }
}
