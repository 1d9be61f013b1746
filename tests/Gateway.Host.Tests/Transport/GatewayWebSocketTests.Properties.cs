using System.Net.WebSockets;
using System.Text;
using System.Text.Unicode;
using CsCheck;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed partial class GatewayWebSocketTests
{
    private static readonly byte[][] s_invalidUtf8 =
    [
        [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
        [0xF8], [0xFF], [0x80], [0xE2, 0x28, 0xA1], [0xE2, 0x82], [0xF0, 0x9F, 0x98],
    ];

    private static readonly Gen<byte[]> s_validText = Gen.Frequency(
            (4, Gen.Int[0x20, 0x7E]), (2, Gen.Int[0x80, 0x7FF]), (2, Gen.Int[0x800, 0xD7FF]), (1, Gen.Int[0xE000, 0xFFFD]), (2, Gen.Int[0x10000, 0x10FFFF]))
        .Array[0, 24]
        .Select(codePoints => Encoding.UTF8.GetBytes(string.Concat(codePoints.Select(c => char.ConvertFromUtf32(c)))));

    private static readonly Gen<byte[]> s_textPayload = Gen.Frequency(
        (6, s_validText),
        (2, Gen.Select(s_validText, Gen.Int[0, s_invalidUtf8.Length - 1], s_validText, (a, bad, b) => (byte[])[.. a, .. s_invalidUtf8[bad], .. b])),
        (1, Gen.OneOf(125, 126, 65535, 65536).Select(n => Enumerable.Repeat((byte)'a', n).ToArray())));

    private static readonly Gen<byte[]> s_binaryPayload = Gen.Frequency(
        (6, Gen.Int[0, 200].SelectMany(n => Gen.Byte.Array[n])),
        (2, Gen.OneOf(0, 1, 125, 126, 127).SelectMany(n => Gen.Byte.Array[n])),
        (1, Gen.OneOf(65535, 65536).Select(Payload)));

    private static readonly Gen<ServerFrame> s_pingPong = Gen.Select(Gen.Bool, Gen.Int[0, 125].SelectMany(n => Gen.Byte.Array[n]), (ping, payload) => new ServerFrame((byte)(ping ? 0x89 : 0x8A), payload));

    // A text or binary message cut into 1-4 fragments at random points, pings and pongs between them.
    private static readonly Gen<ServerFrame[]> s_message = Gen.Select(
        Gen.Bool.SelectMany(text => (text ? s_textPayload : s_binaryPayload).Select(p => (text, p))),
        Gen.Int[0, int.MaxValue].Array[3],
        Gen.Int[1, 4],
        s_pingPong.Array[0, 2],
        (message, cuts, fragments, controls) =>
        {
            var (text, payload) = message;
            var points = cuts.Take(fragments - 1).Select(c => c % (payload.Length + 1)).Order().Prepend(0).Append(payload.Length).ToArray();
            var frames = new List<ServerFrame>();
            for (var i = 0; i + 1 < points.Length; i++)
            {
                var opcode = i == 0 ? (text ? 0x1 : 0x2) : 0x0;
                var fin = i + 2 == points.Length ? 0x80 : 0;
                frames.Add(new ServerFrame((byte)(fin | opcode), payload[points[i]..points[i + 1]]));
                if (i < controls.Length && fin == 0)
                {
                    frames.Add(controls[i]);
                }
            }

            return frames.ToArray();
        });

    private static readonly Gen<ServerFrame[]> s_violation = Gen.OneOf(
        Gen.Int[1, 7].Select(rsv => new[] { new ServerFrame((byte)(0x82 | (rsv << 4)), [1, 2]) }),
        Gen.Byte.Array[0, 10].Select(p => new[] { new ServerFrame(0x82, p, Masked: true) }),
        Gen.OneOf(3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF).Select(op => new[] { new ServerFrame((byte)(0x80 | op), [1]) }),
        Gen.Select(Gen.OneOf(0x88, 0x89, 0x8A), Gen.Int[126, 300], (op, n) => new[] { new ServerFrame((byte)op, new byte[n]) }),
        Gen.OneOf(0x08, 0x09, 0x0A).Select(op => new[] { new ServerFrame((byte)op, []) }),
        Gen.Bool.Select(fin => new[] { new ServerFrame((byte)(fin ? 0x80 : 0x00), [1]) }),
        Gen.Select(Gen.OneOf(0x1, 0x2), Gen.OneOf(0x81, 0x82, 0x01), (first, second) => new[] { new ServerFrame((byte)first, [0x61]), new ServerFrame((byte)second, [0x62]) }),
        Gen.Const(new[] { new ServerFrame(0x82, [], TopBitLength: true) }));

    private static readonly Gen<(ServerFrame[] Frames, bool InvalidReason)> s_ending = Gen.Frequency(
        (3, Gen.Select(Gen.OneOf(1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999), s_validText, (code, reason) => (new[] { ServerFrame.Close(code, reason.Length <= 123 ? reason : []) }, false))),
        (1, Gen.Const<(ServerFrame[], bool)>(([new ServerFrame(0x88, [])], false))),
        (1, Gen.Const<(ServerFrame[], bool)>(([new ServerFrame(0x88, [3])], false))),
        (1, Gen.OneOf(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535).Select(code => (new[] { ServerFrame.Close(code) }, false))),
        (1, Gen.Int[0, s_invalidUtf8.Length - 1].Select(bad => (new[] { ServerFrame.Close(1000, s_invalidUtf8[bad]) }, true))),
        (2, Gen.Const<(ServerFrame[], bool)>(([], false))));

    private static readonly Gen<Script> s_script = Gen.Select(
        Gen.Frequency((6, s_message), (2, s_pingPong.Select(f => new[] { f })), (1, s_violation)).Array[0, 6],
        s_ending,
        Gen.Frequency((5, Gen.Const(0)), (1, Gen.Int[1, 20])),
        Gen.Frequency((3, Gen.Int[1, 16]), (3, Gen.Int[17, 3000]), (1, Gen.Const(100_000))).Array[1, 6],
        Gen.Frequency((3, Gen.Int[1, 16]), (3, Gen.Int[17, 3000]), (1, Gen.Const(70_000))).Array[1, 6],
        Gen.Bool,
        (events, ending, cut, chunks, buffers, park) =>
        {
            var bytes = ServerFrame.Encode([.. events.SelectMany(e => e), .. ending.Frames]);
            return new Script(bytes[..Math.Max(0, bytes.Length - cut)], chunks, buffers, park, ending.InvalidReason && cut == 0);
        });

    [Fact]
    public void ReceiveAsync_GeneratedServerStreams_SameResultsAsThePlatformSocket()
    {
        s_script.Sample(script =>
        {
            var expected = Run(WebSocket.CreateFromStream, script);
            var actual = Run((stream, _) => new GatewayWebSocket(stream, null), script);

            if (expected.Calls.FindIndex(c => c.InvalidText) is var bug and >= 0)
            {
                // The platform does not validate the UTF-8 of an empty final fragment and lets a message that ends
                // inside a code point through; the gateway fails it with 1007 on the same call.
                Assert.Equal(expected.Calls[..bug], actual.Calls);
                Assert.Equal("Faulted", actual.Ending);
                Assert.Equal([.. ClientFrame.Parse(expected.Written.AsSpan(0, expected.Calls[bug].WrittenAfter)).Select(f => f.ToString()), "88:03EF"], actual.Frames);
                return;
            }

            Assert.Equal(expected.Calls, actual.Calls);
            if (script.InvalidReason && expected.Ending == "Faulted" && actual.Error?.Message.StartsWith("invalid UTF-8 in the close reason", StringComparison.Ordinal) == true)
            {
                // The platform answers an invalid close reason with 1002; RFC 6455 8.1 and the gateway with 1007.
                Assert.Equal([.. expected.Frames[..^1], "88:03EF"], actual.Frames);
                Assert.Equal("88:03EA", expected.Frames[^1]);
                return;
            }

            Assert.Equal(expected.Ending, actual.Ending);
            Assert.Equal(expected.Frames, actual.Frames);
            if (actual.Error is { } error && GatewayWebSocketException.Of(error) is { } cause)
            {
                Assert.Equal(actual.Frames.Count(f => f.StartsWith("88:", StringComparison.Ordinal)) == 1 ? ClientFrame.Parse(actual.Written).Last().CloseCode : 1005, (int)cause.SentCloseStatus);
            }
        }, iter: 400, threads: 1);
    }

    private static Outcome Run(Func<Stream, WebSocketCreationOptions, WebSocket> create, Script script)
    {
        using var stream = new ScriptedStream(script.Bytes, script.Chunks);
        using var socket = create(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        var calls = new List<Call>();
        var message = new List<byte>();
        var ending = "Looping";
        Exception? error = null;
        try
        {
            for (var i = 0; i < 300_000; i++)
            {
                var size = script.Park && message.Count == 0 && i % 2 == 0 ? 0 : script.Buffers[i % script.Buffers.Length];
                var buffer = new byte[size];
                var result = socket.ReceiveAsync(buffer.AsMemory(), default).AsTask().GetAwaiter().GetResult();
                var before = (int)stream.WrittenLength;
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    calls.Add(new Call(0, result.MessageType, true, $"{(int?)socket.CloseStatus} {socket.CloseStatusDescription}", false, before));
                    ending = "Close";
                    break;
                }

                message.AddRange(buffer.AsSpan(0, result.Count));
                var invalid = result.EndOfMessage && result.MessageType == WebSocketMessageType.Text && !Utf8.IsValid(message.ToArray());
                calls.Add(new Call(result.Count, result.MessageType, result.EndOfMessage, Convert.ToHexString(buffer, 0, Math.Min(result.Count, 64)), invalid, before));
                if (result.EndOfMessage)
                {
                    message.Clear();
                }
            }
        }
        catch (WebSocketException e)
        {
            ending = e.WebSocketErrorCode.ToString();
            error = e;
        }

        var written = stream.Written;
        return new Outcome(calls, ending, [.. ClientFrame.Parse(written).Select(f => f.ToString())], written, error);
    }

    private sealed record Script(byte[] Bytes, int[] Chunks, int[] Buffers, bool Park, bool InvalidReason)
    {
        public override string ToString() => $"{Convert.ToHexString(Bytes.AsSpan(0, Math.Min(Bytes.Length, 400)))} ({Bytes.Length} bytes) chunks [{string.Join(',', Chunks)}] buffers [{string.Join(',', Buffers)}] park {Park}";
    }

    private sealed record Call(int Count, WebSocketMessageType Type, bool EndOfMessage, string Data, bool InvalidText, int WrittenAfter)
    {
        // InvalidText and WrittenAfter describe the oracle's call; they are not compared.
        public bool Equals(Call? other) => other is not null && (Count, Type, EndOfMessage, Data) == (other.Count, other.Type, other.EndOfMessage, other.Data);

        public override int GetHashCode() => HashCode.Combine(Count, Type, EndOfMessage, Data);
    }

    private sealed record Outcome(List<Call> Calls, string Ending, string[] Frames, byte[] Written, Exception? Error);
}
