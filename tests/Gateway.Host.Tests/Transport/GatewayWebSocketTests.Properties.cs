using System.Net.WebSockets;
using System.Text;
using System.Text.Unicode;
using CsCheck;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed partial class GatewayWebSocketTests
{
    private static readonly Gen<(ServerFrame[] Frames, bool InvalidReason)> s_ending = Gen.Frequency(
        (3, Gen.Select(Gen.OneOf(1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999), ServerFrameGen.ValidText, (code, reason) => (new[] { ServerFrame.Close(code, reason.Length <= 123 ? reason : []) }, false))),
        (1, Gen.Const<(ServerFrame[], bool)>(([new ServerFrame(0x88, [])], false))),
        (1, Gen.Const<(ServerFrame[], bool)>(([new ServerFrame(0x88, [3])], false))),
        (1, Gen.OneOf(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535).Select(code => (new[] { ServerFrame.Close(code) }, false))),
        (1, Gen.Int[0, ServerFrameGen.InvalidUtf8.Length - 1].Select(bad => (new[] { ServerFrame.Close(1000, ServerFrameGen.InvalidUtf8[bad]) }, true))),
        (2, Gen.Const<(ServerFrame[], bool)>(([], false))));

    private static readonly Gen<Script> s_script = Gen.Select(
        Gen.Frequency((6, ServerFrameGen.Message), (2, ServerFrameGen.PingPong.Select(f => new[] { f })), (1, ServerFrameGen.Violation)).Array[0, 6],
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
