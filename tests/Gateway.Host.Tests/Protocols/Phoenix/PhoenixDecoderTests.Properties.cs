using CsCheck;
using Gateway.Host.Protocols.Phoenix;
using static Gateway.Host.Tests.Protocols.Phoenix.PhoenixTestMessages;

namespace Gateway.Host.Tests.Protocols.Phoenix;

public sealed partial class PhoenixDecoderTests
{
    private static readonly Gen<PhoenixWireFormat> s_format = Gen.OneOf(Gen.Const(V2), Gen.Const(V1));

    private static readonly Gen<string?> s_response = Gen.Frequency((4, PhoenixGen.Json.Select(j => (string?)j)), (1, Gen.Const((string?)null)));

    private static readonly Gen<(byte[] Message, bool IsBinary)> s_validV2Binary = Gen.Select(PhoenixGen.BinaryMessage, PhoenixGen.Status, Gen.Int[0, 2], (m, status, kind) => kind switch
    {
        0 => ServerPush(m.JoinRef, m.Topic, m.Event, m.BinaryPayload),
        1 => ServerReply(m.JoinRef, m.Ref, m.Topic, status.Length > 255 ? "ok" : status, m.BinaryPayload),
        _ => ServerBroadcast(m.Topic, m.Event, m.BinaryPayload),
    }).Select(m => (m, true));

    private static Gen<(byte[] Message, bool IsBinary)> ValidText(PhoenixWireFormat format) => Gen.Select(PhoenixGen.Message, PhoenixGen.Status, s_response, Gen.Bool, Gen.Bool, (m, status, response, reply, indented)
        => (reply ? ServerTextReply(format, m.JoinRef, m.Ref, m.Topic, status, response, indented) : ServerText(format, m, indented), false));

    [Fact]
    public void TryDecode_GeneratedServerTextFromSystemTextJson_SameMessage()
    {
        Gen.Select(PhoenixGen.Message, s_format, Gen.Bool).Sample((m, format, indented) =>
        {
            var decoded = Decode(format, ServerText(format, m, indented));

            Assert.Equal(new DecodedMessage(m.JoinRef, m.Ref, m.Topic, m.Event, "", m.PayloadJson, false), decoded);
        }, iter: 2000);
    }

    [Fact]
    public void TryDecode_GeneratedServerTextReplies_StatusAndResponse()
    {
        Gen.Select(PhoenixGen.Message, PhoenixGen.Status, s_response, s_format, Gen.Bool).Sample((m, status, response, format, indented) =>
        {
            var decoded = Decode(format, ServerTextReply(format, m.JoinRef, m.Ref, m.Topic, status, response, indented));

            Assert.Equal(new DecodedMessage(m.JoinRef, m.Ref, m.Topic, PhoenixEvents.Reply, status, response ?? "", false), decoded);
        }, iter: 1000);
    }

    [Fact]
    public void TryDecode_GeneratedServerBinaryFrames_SameMessage()
    {
        Gen.Select(PhoenixGen.BinaryMessage, PhoenixGen.Status.Where(s => Utf8(s).Length <= 255), Gen.Int[0, 2]).Sample((m, status, kind) =>
        {
            var payload = Convert.ToHexString(m.BinaryPayload);
            var (message, expected) = kind switch
            {
                0 => (ServerPush(m.JoinRef, m.Topic, m.Event, m.BinaryPayload), new DecodedMessage(m.JoinRef, -1, m.Topic, m.Event, "", payload, true)),
                1 => (ServerReply(m.JoinRef, m.Ref, m.Topic, status, m.BinaryPayload), new DecodedMessage(m.JoinRef, m.Ref, m.Topic, PhoenixEvents.Reply, status, payload, true)),
                _ => (ServerBroadcast(m.Topic, m.Event, m.BinaryPayload), new DecodedMessage(-1, -1, m.Topic, m.Event, "", payload, true)),
            };

            Assert.Equal(expected, Decode(V2, message, isBinary: true));
        }, iter: 1000);
    }

    [Fact]
    public void TryDecode_ArbitraryBytes_NeverThrowsAndKeepsItsPromises()
    {
        Gen.Select(Gen.Byte.Array[0, 80], s_format, Gen.Bool).Sample((message, format, isBinary) => CheckDecode(format, message, isBinary), iter: 5000);
    }

    // Bytes JSON is made of, so that random messages get past the first token.
    private static readonly byte[] s_interesting = [.. "[]{}\",:\\ nul tr fae01239-.+Eu\r\n\t/bx"u8, 0, 0x01, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xED, 0xF0, 0xFF];

    [Fact]
    public void TryDecode_JsonTokenSoup_NeverThrowsAndKeepsItsPromises()
    {
        var soup = Gen.Frequency(
            (3, Gen.Int[0, s_interesting.Length - 1].Select(i => new[] { s_interesting[i] })),
            (1, Gen.OneOf(Gen.Const("null"u8.ToArray()), Gen.Const("\"1\""u8.ToArray()), Gen.Const("\"phx_reply\""u8.ToArray()),
                Gen.Const("\"status\""u8.ToArray()), Gen.Const("\"response\""u8.ToArray()), Gen.Const("\"topic\""u8.ToArray()), Gen.Const("\\u00e9"u8.ToArray()),
                Gen.Const("\\ud800"u8.ToArray()), Gen.Const("\\udc00"u8.ToArray()), Gen.Const("\\ud83d\\ude00"u8.ToArray()), Gen.Const("\\u0"u8.ToArray()))));
        Gen.Select(soup.Array[0, 40], s_format).Sample((parts, format) =>
        {
            byte[] message = [.. "[null,\"1\",\"t\","u8, .. parts.SelectMany(p => p)];
            CheckDecode(format, message, isBinary: false);
            CheckDecode(format, [.. parts.SelectMany(p => p)], isBinary: false);
        }, iter: 5000);
    }

    [Fact]
    public void TryDecode_AlmostPhoenixText_NeverThrowsAndKeepsItsPromises()
    {
        Gen.OneOf(PhoenixGen.WildText(V2).Select(t => (V2, t)), PhoenixGen.WildText(V1).Select(t => (V1, t))).Sample((format, text) =>
        {
            CheckDecode(format, Utf8(text), isBinary: false);
        }, iter: 10_000);
    }

    [Fact]
    public void TryDecode_MutatedOrTruncatedValidMessages_NeverThrowsAndKeepsItsPromises()
    {
        var valid = Gen.Frequency(
            (2, ValidText(V2).Select(m => (V2, m))),
            (1, ValidText(V1).Select(m => (V1, m))),
            (2, s_validV2Binary.Select(m => (V2, m))),
            (1, PhoenixGen.WildText(V2).Select(t => (V2, (Utf8(t), false)))),
            (1, PhoenixGen.WildText(V1).Select(t => (V1, (Utf8(t), false)))));
        var mutation = Gen.Select(Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.Int[0, s_interesting.Length - 1]);
        Gen.Select(valid, mutation.Array[1, 4]).Sample((frame, mutations) =>
        {
            var (format, (message, isBinary)) = frame;
            CheckDecode(format, message, isBinary);
            var bytes = message.ToList();
            foreach (var (kind, position, value) in mutations)
            {
                var at = position % (bytes.Count + 1);
                var b = (value & 1) == 0 ? s_interesting[value] : (byte)position;
                switch (kind)
                {
                    case 0 when at < bytes.Count: bytes[at] = b; break;
                    case 1 when at < bytes.Count: bytes.RemoveAt(at); break;
                    case 2: bytes.Insert(at, b); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }

            CheckDecode(format, [.. bytes], isBinary);
        }, iter: 5000);
    }

    [Fact]
    public void TryDecode_ValidMessagesCutAtEveryLength_NeverThrowsAndKeepsItsPromises()
    {
        Gen.OneOf(ValidText(V2), s_validV2Binary).Where(m => m.Message.Length < 400).Sample(m =>
        {
            for (var length = 0; length < m.Message.Length; length++)
            {
                CheckDecode(V2, m.Message[..length], m.IsBinary);
            }
        }, iter: 200);
    }

    /// <summary>
    /// Decodes twice with one decoder, once more after decoding an escaped message in between (the scratch buffer is reused),
    /// and checks what any outcome promises: a reason on failure; on success, a payload range inside the message,
    /// UTF-8 topic, event and status, known ref values, and a status exactly for replies.
    /// </summary>
    private static void CheckDecode(PhoenixWireFormat format, byte[] message, bool isBinary)
    {
        var decoder = new PhoenixDecoder(format);
        var first = Outcome(decoder, format, message, isBinary);
        var other = Utf8("""[null,null,"\u00e9\u00e9\u00e9\u00e9","\n\n\n\n\n\n\n\n",{}]""");
        Outcome(decoder, format, other, isBinary: false);
        Assert.Equal(first, Outcome(decoder, format, message, isBinary));
    }

    private static (DecodedMessage? Decoded, string? Error) Outcome(PhoenixDecoder decoder, PhoenixWireFormat format, byte[] message, bool isBinary)
    {
        if (!decoder.TryDecode(message, isBinary, out var decoded, out var error))
        {
            Assert.False(string.IsNullOrEmpty(error));
            Assert.True(decoded.Topic.IsEmpty && decoded.Event.IsEmpty && decoded.Status.IsEmpty);
            return (null, error);
        }

        Assert.Null(error);
        Assert.True(format == V2 || !isBinary);
        var (offset, length) = decoded.Payload.GetOffsetAndLength(message.Length);
        Assert.InRange(offset + length, 0, message.Length);
        Assert.True(System.Text.Unicode.Utf8.IsValid(decoded.Topic) && System.Text.Unicode.Utf8.IsValid(decoded.Event) && System.Text.Unicode.Utf8.IsValid(decoded.Status));
        Assert.InRange(decoded.JoinRef, -2, long.MaxValue);
        Assert.InRange(decoded.Ref, -2, long.MaxValue);
        Assert.Equal(decoded.IsReply, !decoded.Status.IsEmpty);
        Assert.Equal(isBinary, decoded.PayloadIsBinary);
        if (isBinary && !decoded.IsReply)
        {
            Assert.False(decoded.Event.SequenceEqual(PhoenixEvents.ReplyUtf8));
        }

        return (Flatten(decoded, message), null);
    }
}
