using Gateway.Host.Protocols.Stomp;
using static Gateway.Host.Tests.Protocols.Stomp.StompTestFrames;

namespace Gateway.Host.Tests.Protocols.Stomp;

public sealed partial class StompParserTests
{
    private const string RabbitConnected = "CONNECTED\nserver:RabbitMQ/3.10.8\nsession:session-rLAIVwbjyb9t3G5TYBXdTQ\nheart-beat:2000,2000\nversion:1.2\n\n\0";

    private const string RabbitMessage = "MESSAGE\nsubscription:sub-0\ndestination:/exchange/quotes/eur.usd\nmessage-id:T_sub-0@@session-rLAIVwbjyb9t3G5TYBXdTQ@@1\n"
        + "redelivered:false\nack:T_sub-0@@session-rLAIVwbjyb9t3G5TYBXdTQ@@1\ncontent-type:application/json\ncontent-length:13\n\n{\"bid\":1.085}\0";

    private static ParseOutcome ParseText(params string[] chunks) => Parse(chunks.Select(Utf8));

    private static string? ErrorOf(params string[] chunks) => ParseText(chunks).Error;

    [Fact]
    public void Next_RabbitMqConnected_GivesVersionHeartBeatServerAndSession()
    {
        using var parser = new StompParser(4096);
        var chunk = Utf8(RabbitConnected);
        var reader = parser.Read(chunk);

        Assert.Equal(StompReadStatus.Frame, reader.Next(out var frame));
        Assert.Equal(StompCommand.Connected, frame.Command);
        Assert.True(frame.TryGetHeader("version", out var version));
        Assert.Equal("1.2", version);
        Assert.True(frame.TryGetHeader("heart-beat", out var heartBeat));
        Assert.Equal("2000,2000", heartBeat);
        Assert.True(frame.TryGetHeader("server", out var server));
        Assert.Equal("RabbitMQ/3.10.8", server);
        Assert.True(frame.TryGetHeader("session", out var session));
        Assert.Equal("session-rLAIVwbjyb9t3G5TYBXdTQ", session);
        Assert.True(frame.Body.IsEmpty);
        Assert.Equal(chunk.Length, frame.Length);
        Assert.Equal(StompReadStatus.NeedMoreData, reader.Next(out _));
        Assert.Equal(0, parser.PendingBytes);
    }

    [Fact]
    public void Next_RabbitMqMessage_HeadersOnDemandAndBodyInPlace()
    {
        using var parser = new StompParser(4096);
        var chunk = Utf8("\n" + RabbitMessage + "\n");
        var reader = parser.Read(chunk);

        Assert.Equal(StompReadStatus.Frame, reader.Next(out var frame));
        Assert.Equal(StompCommand.Message, frame.Command);
        Assert.False(frame.IsBuffered);
        Assert.Equal(1, frame.ChunkOffset);
        Assert.Equal("{\"bid\":1.085}", System.Text.Encoding.UTF8.GetString(chunk, frame.BodyOffset, frame.Body.Length));
        Assert.True(frame.TryGetHeader("subscription", out var subscription));
        Assert.Equal("sub-0", subscription);
        Assert.True(frame.TryGetHeader("destination", out var destination));
        Assert.Equal("/exchange/quotes/eur.usd", destination);
        Assert.True(frame.TryGetHeader("message-id"u8, out var messageId));
        Assert.True(frame.TryGetHeader("ack"u8, out var ack));
        Assert.True(messageId.SequenceEqual(ack));
        Assert.True(frame.TryGetHeader("redelivered", out var redelivered));
        Assert.Equal("false", redelivered);
        Assert.True(frame.TryGetHeader("content-type", out var contentType));
        Assert.Equal("application/json", contentType);
        Assert.True(frame.TryGetHeader("content-length", out var contentLength));
        Assert.Equal("13", contentLength);
        Assert.False(frame.TryGetHeader("receipt", out _));
        Assert.Equal(StompReadStatus.NeedMoreData, reader.Next(out _));
        Assert.Equal(2, reader.HeartBeats);
    }

    [Fact]
    public void Next_MessagesInsideOneChunk_AllocateNothing()
    {
        using var parser = new StompParser(4096);
        var chunk = Utf8(string.Concat(Enumerable.Repeat(RabbitMessage + "\n", 20)));
        ReadAll(parser, chunk);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var (frames, bodyBytes) = ReadAll(parser, chunk);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(20, frames);
        Assert.Equal(20 * 13, bodyBytes);
        Assert.Equal(0, allocated);

        static (int Frames, int BodyBytes) ReadAll(StompParser parser, byte[] chunk)
        {
            var reader = parser.Read(chunk);
            var (frames, bodyBytes) = (0, 0);
            while (reader.Next(out var frame) == StompReadStatus.Frame)
            {
                frames++;
                bodyBytes += frame.Body.Length;
                if (!frame.TryGetHeader("ack"u8, out var ack) || ack.IsEmpty || !frame.TryGetHeader("subscription"u8, out _))
                {
                    throw new InvalidOperationException("headers missing");
                }
            }

            return (frames, bodyBytes);
        }
    }

    [Fact]
    public void Next_FrameSplitAcrossChunks_AssembledInTheParsersBuffer()
    {
        using var parser = new StompParser(4096);
        var stream = Utf8(RabbitMessage + RabbitConnected);
        var cut = 40;

        var first = parser.Read(stream.AsSpan(0, cut));
        Assert.Equal(StompReadStatus.NeedMoreData, first.Next(out _));
        Assert.Equal(cut, parser.PendingBytes);

        var second = parser.Read(stream.AsSpan(cut));
        Assert.Equal(StompReadStatus.Frame, second.Next(out var message));
        Assert.True(message.IsBuffered);
        Assert.Equal(-1, message.BodyOffset);
        Assert.Equal("{\"bid\":1.085}"u8, message.Body);
        Assert.Equal(StompReadStatus.Frame, second.Next(out var connected));
        Assert.False(connected.IsBuffered);
        Assert.Equal(RabbitMessage.Length - cut, connected.ChunkOffset);
        Assert.Equal(StompReadStatus.NeedMoreData, second.Next(out _));
        Assert.Equal(0, parser.PendingBytes);
    }

    [Fact]
    public void Next_CrLfLineEndings_SameFrameAsLf()
    {
        var lf = ParseText("MESSAGE\nfoo:bar\ndestination:/q/a\n\nbody\0");
        var crLf = ParseText("MESSAGE\r\nfoo:bar\r\ndestination:/q/a\r\n\r\nbody\0");

        Assert.Equal(lf, crLf);
        Assert.Single(lf.Frames);
        Assert.Equal("foo=bar\u2028destination=/q/a", lf.Frames[0].Headers);
    }

    [Fact]
    public void Next_EscapedHeaders_Decoded()
    {
        var outcome = ParseText("MESSAGE\na\\cb\\\\:line\\nbreak\\rreturn\\ccolon\\\\slash\n\n\0");

        Assert.Null(outcome.Error);
        Assert.Equal(ParsedFrame.Of(StompCommand.Message, [("a:b\\", "line\nbreak\rreturn:colon\\slash")], [], 0), outcome.Frames[0]);
    }

    [Fact]
    public void TryGetHeader_NameWithEscapableCharacters_Found()
    {
        using var parser = new StompParser(4096);
        var reader = parser.Read(Utf8("MESSAGE\nx\\cy:1\nx:2\n\n\0"));

        Assert.Equal(StompReadStatus.Frame, reader.Next(out var frame));
        Assert.True(frame.TryGetHeader("x:y", out var value));
        Assert.Equal("1", value);
        Assert.True(frame.TryGetHeader("x\\cy"u8, out _));
    }

    [Fact]
    public void Next_ConnectedHeaders_NotUnescaped()
    {
        var outcome = ParseText("CONNECTED\nversion:1.2\nserver:a\\cb\\t:c\n\n\0");

        Assert.Null(outcome.Error);
        Assert.Equal("version=1.2\u2028server=a\\\\cb\\\\t:c", outcome.Frames[0].Headers);
    }

    [Fact]
    public void Next_UndefinedEscape_FailsWithTheEscape()
        => Assert.Equal("malformed STOMP frame: undefined escape '\\t' in header line ('foo:a\\tb')", ErrorOf("MESSAGE\nfoo:a\\tb\n\n\0"));

    [Fact]
    public void Next_BackslashAtEndOfHeaderLine_Fails()
        => Assert.Equal("malformed STOMP frame: '\\' at the end of header line ('foo:ab\\')", ErrorOf("RECEIPT\nfoo:ab\\\n\n\0"));

    [Fact]
    public void Next_EscapedColonBeforeTheSeparator_IsPartOfTheName()
        => Assert.Equal("a:b=c", ParseText("ERROR\na\\cb:c\n\n\0").Frames[0].Headers);

    [Fact]
    public void Next_RepeatedHeader_FirstValueWinsAndAllAreEnumerated()
    {
        using var parser = new StompParser(4096);
        var reader = parser.Read(Utf8("MESSAGE\nfoo:World\nfoo:Hello\n\n\0"));

        Assert.Equal(StompReadStatus.Frame, reader.Next(out var frame));
        Assert.True(frame.TryGetHeader("foo", out var value));
        Assert.Equal("World", value);
        Assert.Equal("foo=World\u2028foo=Hello", Flatten(frame, 0).Headers);
    }

    [Fact]
    public void Next_RepeatedContentLength_FirstOneCounts()
    {
        var outcome = ParseText("MESSAGE\ncontent-length:3\ncontent-length:1\n\na\0b\0");

        Assert.Null(outcome.Error);
        Assert.Equal("610062", outcome.Frames[0].Body);
    }

    [Fact]
    public void Next_HeaderValues_NeverTrimmed()
        => Assert.Equal(" a = b ", ParseText("MESSAGE\n a : b \n\n\0").Frames[0].Headers);

    [Fact]
    public void Next_ContentLength_BodyHoldsNulsAndEndsAtTheCount()
    {
        var outcome = ParseText("MESSAGE\ncontent-length:5\n\n\0a\0b\0\0\nRECEIPT\nreceipt-id:7\n\n\0");

        Assert.Null(outcome.Error);
        Assert.Equal(2, outcome.Frames.Count);
        Assert.Equal("0061006200", outcome.Frames[0].Body);
        Assert.Equal(StompCommand.Receipt, outcome.Frames[1].Command);
        Assert.Equal(1, outcome.Frames[1].HeartBeatsBefore);
    }

    [Fact]
    public void Next_NoNulAfterTheContentLengthBody_Fails()
        => Assert.Equal("malformed STOMP frame: no NUL after the 3-byte body that content-length announces", ErrorOf("MESSAGE\ncontent-length:3\n\nabcd\0"));

    [Theory]
    [InlineData("", "")]
    [InlineData("-1", "-1")]
    [InlineData("+3", "+3")]
    [InlineData(" 3", " 3")]
    [InlineData("3 ", "3 ")]
    [InlineData("0x10", "0x10")]
    [InlineData("99999999999", "99999999999")]
    public void Next_ContentLengthNotAnOctetCount_Fails(string value, string shown)
        => Assert.Equal($"malformed STOMP frame: content-length is not an octet count ('{shown}')", ErrorOf($"MESSAGE\ncontent-length:{value}\n\n\0"));

    [Fact]
    public void Next_NoContentLength_BodyEndsAtTheFirstNul()
    {
        var outcome = ParseText("MESSAGE\n\nab\0cd\0");

        Assert.Equal("6162", outcome.Frames[0].Body);
        Assert.Equal("malformed STOMP frame: NUL before the end of the headers ('cd')", outcome.Error);
    }

    [Fact]
    public void Next_EolsBetweenFrames_CountedAsHeartBeatsNotFrames()
    {
        var outcome = ParseText("\n\r\n\n", "RECEIPT\nreceipt-id:1\n\n\0\r\n\n", "\n", "\r", "\n");

        Assert.Null(outcome.Error);
        Assert.Single(outcome.Frames);
        Assert.Equal(3, outcome.Frames[0].HeartBeatsBefore);
        Assert.Equal(7, outcome.HeartBeats);
        Assert.Equal(0, outcome.PendingBytes);
    }

    [Fact]
    public void Next_CrWaitingForItsLf_KeptAsPending()
    {
        var outcome = ParseText("\n\r");

        Assert.Equal(1, outcome.HeartBeats);
        Assert.Equal(1, outcome.PendingBytes);
    }

    [Fact]
    public void Next_CrNotFollowedByLfBetweenFrames_Fails()
        => Assert.Equal("malformed STOMP frame: carriage return not followed by line feed between frames", ErrorOf("\r", "MESSAGE\n\n\0"));

    [Fact]
    public void Next_CrInsideAHeaderLine_Fails()
        => Assert.Equal("malformed STOMP frame: carriage return not followed by line feed in line ('foo:a\\x0Db')", ErrorOf("MESSAGE\nfoo:a\rb\n\n\0"));

    [Fact]
    public void Next_NulInHeaders_Fails()
        => Assert.Equal("malformed STOMP frame: NUL before the end of the headers ('receipt-id:1')", ErrorOf("RECEIPT\nreceipt-id:1\0MESSAGE\n\n\0"));

    [Fact]
    public void Next_HeaderLineWithoutColon_Fails()
        => Assert.Equal("malformed STOMP frame: header line without ':' ('foo')", ErrorOf("MESSAGE\nfoo\n\n\0"));

    [Fact]
    public void Next_HeaderWithEmptyName_Fails()
        => Assert.Equal("malformed STOMP frame: header line with an empty name (':foo')", ErrorOf("MESSAGE\n:foo\n\n\0"));

    [Fact]
    public void Next_RawColonInAValue_KeptAsPartOfTheValue()
        => Assert.Equal("destination=/queue/a:b", ParseText("MESSAGE\ndestination:/queue/a:b\n\n\0").Frames[0].Headers);

    [Theory]
    [InlineData("message")]
    [InlineData("MESSAGE ")]
    [InlineData(" MESSAGE")]
    [InlineData("HELLO")]
    [InlineData("\0")]
    public void Next_UnknownCommand_Fails(string command)
        => Assert.StartsWith("malformed STOMP frame: ", ErrorOf($"{command}\n\n\0"));

    [Fact]
    public void Next_UnknownCommand_SaysWhichInWords()
        => Assert.Equal("malformed STOMP frame: unknown command ('HELLO')", ErrorOf("HELLO\n\n\0"));

    [Theory]
    [InlineData("SEND")]
    [InlineData("CONNECT")]
    [InlineData("STOMP")]
    [InlineData("ACK")]
    [InlineData("DISCONNECT")]
    public void Next_ClientCommandFromTheServer_Fails(string command)
        => Assert.Equal($"malformed STOMP frame: {command} is a client command, not one a server sends", ErrorOf($"{command}\n\n\0"));

    [Fact]
    public void Next_ClientCommandWhenAccepted_Parsed()
    {
        var outcome = Parse([Utf8("SEND\ndestination:/q\ncontent-length:1\n\nx\0")], acceptClientCommands: true);

        Assert.Null(outcome.Error);
        Assert.Equal(StompCommand.Send, outcome.Frames[0].Command);
    }

    [Theory]
    [InlineData("RECEIPT\nreceipt-id:1\n\nx\0", "RECEIPT")]
    [InlineData("CONNECTED\ncontent-length:1\n\nx\0", "CONNECTED")]
    public void Next_BodyOnAFrameWithoutOne_Fails(string stream, string command)
        => Assert.Equal($"malformed STOMP frame: {command} with a body (only SEND, MESSAGE and ERROR may have one)", ErrorOf(stream));

    [Fact]
    public void Next_InvalidUtf8InHeaders_Fails()
        => Assert.Equal("malformed STOMP frame: headers are not valid UTF-8", Parse([[.. Utf8("MESSAGE\nfoo:"), 0xC3, 0x28, .. Utf8("\n\n\0")]]).Error);

    [Theory]
    [InlineData("MESSAGE\n\n0123456789\0", 16, true)]
    [InlineData("MESSAGE\n\n0123456789\0", 20, false)]
    [InlineData("MESSAGE\ncontent-length:10\n\n0123456789\0", 37, true)]
    [InlineData("MESSAGE\ncontent-length:10\n\n0123456789\0", 38, false)]
    [InlineData("MESSAGE\nfoo:0123456789012345678901234567890123456789\n\n\0", 30, true)]
    [InlineData("MESSAGE\ncontent-length:999999999\n\n", 1000, true)]
    public void Next_FrameLargerThanTheMaximum_FailsWhateverTheCut(string stream, int maxFrameSize, bool tooLarge)
    {
        var bytes = Utf8(stream);
        var whole = Parse([bytes], maxFrameSize);
        var byteByByte = Parse(bytes.Select(b => new[] { b }), maxFrameSize);

        Assert.Equal(whole, byteByByte);
        Assert.Equal(tooLarge ? $"STOMP frame larger than the maximum of {maxFrameSize} bytes" : null, whole.Error);
    }

    [Fact]
    public void Next_AfterAnError_StaysFailed()
    {
        using var parser = new StompParser(4096);
        var reader = parser.Read(Utf8("MESSAGE\nfoo\n\n\0"));
        Assert.Equal(StompReadStatus.Error, reader.Next(out _));

        var next = parser.Read(Utf8(RabbitConnected));

        Assert.Equal(StompReadStatus.Error, next.Next(out _));
        Assert.Equal("malformed STOMP frame: header line without ':' ('foo')", next.Error);
    }

    [Fact]
    public void Next_LongOffendingLine_ShownShortened()
    {
        var error = ErrorOf($"MESSAGE\n{new string('x', 100)}\n\n\0");

        Assert.Equal($"malformed STOMP frame: header line without ':' ('{new string('x', 64)}…')", error);
    }

    [Fact]
    public void Read_AfterDispose_Throws()
    {
        var parser = new StompParser(4096);
        parser.Dispose();

        Assert.Throws<ObjectDisposedException>(() => parser.Read([]));
    }
}
