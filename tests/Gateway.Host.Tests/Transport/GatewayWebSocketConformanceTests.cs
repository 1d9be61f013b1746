using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;
using CsCheck;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

/// <summary>
/// RFC 6455 conformance of the gateway's frame layer, three ways: generated server byte streams are fed to the
/// gateway's <see cref="GatewayWebSocket"/>, to the platform's managed socket (<see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>,
/// the oracle) and to <see cref="Rfc6455Model"/>, a plain reading of the RFC written for this test. The gateway must
/// match the model exactly (complete messages, how the connection ends, and every frame it writes: pongs, its close);
/// the platform must match both, except where it is knowingly laxer or stricter than the RFC (<see cref="PlatformDeviation"/>).
/// </summary>
/// <remarks>
/// Where both implementations read the RFC the same way but the RFC leaves room, the model follows them:
/// a non-minimal length encoding is accepted (5.2 puts "the minimal number of bytes MUST be used" on the sender, and
/// neither socket checks it); an empty close frame is reported as <see cref="WebSocketCloseStatus.NormalClosure"/> (the
/// API has no "no status" value; 7.1.5's 1005 is never reported) and so echoed as 1000; invalid UTF-8 is found at the
/// byte that decides it, with an overlong or out-of-range sequence decided only once the byte deciding it is in (8.1
/// sets no earlier point), so a text fragment ending inside such a sequence may still see the next ping answered.
/// </remarks>
public sealed class GatewayWebSocketConformanceTests
{
    private static readonly byte[] s_emptyFinalContinuation = [0x80, 0x00];

    private static readonly Gen<ServerFrame[]> s_ending = Gen.Frequency(
        // Valid codes (RFC 6455 7.4.1 and 7.4.2: 1000-1003, 1007-1014 (IANA), 3000-4999) with a valid reason.
        (4, Gen.Select(Gen.Frequency((2, Gen.Int[1000, 1003]), (2, Gen.Int[1007, 1014]), (2, Gen.Int[3000, 4999])), ServerFrameGen.ValidText, (code, reason) => new[] { ServerFrame.Close(code, reason.Length <= 123 ? reason : reason[..0]) })),
        (1, Gen.Const(new[] { new ServerFrame(0x88, []) })),
        (1, Gen.Byte.Select(b => new[] { new ServerFrame(0x88, [b]) })),
        // Codes never valid on the wire: 0-999, 1004-1006, 1015, 1016-2999 (reserved), 5000-65535.
        (2, Gen.Frequency(
            (2, Gen.OneOf(new[] { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 }.Select(Gen.Const).ToArray())),
            (1, Gen.Int[0, 999]), (1, Gen.Int[1016, 2999]), (1, Gen.Int[5000, 65535])).Select(code => new[] { ServerFrame.Close(code) })),
        (1, Gen.Select(Gen.Int[0, ServerFrameGen.InvalidUtf8.Length - 1], ServerFrameGen.LengthForm, (bad, form) => new[] { ServerFrame.Close(1000, [0x6F, 0x6B, .. ServerFrameGen.InvalidUtf8[bad]]) with { LengthForm = form } })),
        (2, Gen.Const(Array.Empty<ServerFrame>())));

    private static readonly Gen<int[]> s_chunks = Gen.Frequency(
        (2, Gen.Const(new[] { 1 })),
        (3, Gen.Int[1, 16].Array[1, 6]),
        (3, Gen.Int[17, 3000].Array[1, 6]),
        (1, Gen.Const(new[] { int.MaxValue })));

    private static readonly Gen<int[]> s_buffers = Gen.Frequency((3, Gen.Int[1, 16]), (3, Gen.Int[17, 3000]), (1, Gen.Const(70_000))).Array[1, 6];

    private static readonly Gen<Script> s_script = Gen.Select(
        Gen.Frequency((6, ServerFrameGen.Message), (2, ServerFrameGen.PingPong.Select(f => new[] { f })), (1, ServerFrameGen.Violation), (1, ServerFrameGen.EmptyFinalFragment)).Array[0, 6],
        s_ending,
        Gen.Frequency((5, Gen.Const(0)), (1, Gen.Int[1, 20])),
        s_chunks,
        s_buffers,
        Gen.Bool,
        (events, ending, cut, chunks, buffers, park) =>
        {
            var bytes = ServerFrame.Encode([.. events.SelectMany(e => e), .. ending]);
            return new Script(bytes[..Math.Max(0, bytes.Length - cut)], chunks, buffers, park);
        });

    /// <summary>Which way the platform's socket knowingly departs from RFC 6455 on a stream; the gateway does not.</summary>
    private enum PlatformDeviation
    {
        None,

        /// <summary>
        /// RFC 6455 8.1 (and 5.6: a text message is UTF-8 as a whole): the platform skips validation for an empty final
        /// fragment, so a text message whose last non-empty fragment ends inside a code point is delivered (the platform
        /// then reports no error). The gateway fails it with 1007 when the empty final fragment comes in.
        /// </summary>
        UnvalidatedEmptyFinalFragment,

        /// <summary>
        /// RFC 6455 7.1.6 and 8.1: a close reason is UTF-8, and invalid UTF-8 fails the connection with 1007 (7.4.1). The
        /// platform answers it with 1002. The gateway sends 1007.
        /// </summary>
        CloseReasonInvalidUtf8Answered1002,
    }

    [Fact]
    public void ReceiveAsync_GeneratedServerStreams_GatewayFollowsRfc6455AndMatchesThePlatform()
    {
        var deviations = new int[Enum.GetValues<PlatformDeviation>().Length];
        s_script.Sample(script => deviations[(int)Check(script)]++, iter: 800, threads: 1);

        // The generators must reach both deviations (each ~1-5 % of streams), or the test no longer shows them.
        Assert.All(deviations, count => Assert.True(count > 0, $"deviation counts {string.Join(", ", deviations)}"));
    }

    [Fact]
    public void ReceiveAsync_EverySplitPointOfSmallStreams_SameOutcome()
    {
        // The stream in two reads split at every offset, then in reads of one byte.
        var small = Gen.Select(Gen.Frequency((6, ServerFrameGen.Message), (2, ServerFrameGen.PingPong.Select(f => new[] { f })), (1, ServerFrameGen.Violation), (1, ServerFrameGen.EmptyFinalFragment)).Array[1, 4], s_ending, (events, ending) => ServerFrame.Encode([.. events.SelectMany(e => e), .. ending]))
            .Where(bytes => bytes.Length <= 400);
        small.Sample(bytes =>
        {
            for (var split = 1; split < bytes.Length; split++)
            {
                Check(new Script(bytes, [split, int.MaxValue], [4096], Park: split % 2 == 0));
            }

            Check(new Script(bytes, [1], [1], Park: true));
        }, iter: 25, threads: 1);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(125, 0)]
    [InlineData(5, 16)]
    [InlineData(125, 64)]
    public void ReceiveAsync_Ping_AnsweredWithAPongOfTheSamePayloadByBoth(int length, int form)
    {
        var ping = GatewayWebSocketTests.Payload(length);
        var bytes = ServerFrame.Encode([new ServerFrame(0x89, ping, LengthForm: form), ServerFrame.Text("after"), ServerFrame.Close(1000)]);

        foreach (var create in new[] { Platform, Gateway })
        {
            var outcome = Run(create, new Script(bytes, [1], [3], Park: false));
            Assert.Equal([$"8A:{Convert.ToHexString(ping)}", "88:03E8"], outcome.Written);
            Assert.Equal(["Text:6166746572"], outcome.Messages);
        }
    }

    [Theory]
    [InlineData("88 00", "Close 1000 ", "88:03E8")]
    [InlineData("88 02 03 E9", "Close 1001 ", "88:03E9")]
    [InlineData("88 05 0F A0 62 79 65", "Close 4000 bye", "88:0FA0627965")]
    [InlineData("88 7E 00 04 03 F3 6F 6B", "Close 1011 ok", "88:03F36F6B")]
    public void CloseAsync_ServerClosesFirst_BothEchoItsCodeAndReason(string serverBytes, string ending, string echo)
    {
        var bytes = Convert.FromHexString(serverBytes.Replace(" ", string.Empty, StringComparison.Ordinal));
        foreach (var create in new[] { Platform, Gateway })
        {
            var outcome = Run(create, new Script(bytes, [1], [16], Park: true));
            Assert.Equal(ending, outcome.Ending);
            Assert.Equal([echo], outcome.Written);
        }
    }

    /// <summary>Runs the three; asserts what must hold; returns the platform's deviation on this stream.</summary>
    private static PlatformDeviation Check(Script script)
    {
        var model = Rfc6455Model.Run(script.Bytes);
        var gateway = Run(Gateway, script);
        var platform = Run(Platform, script);

        Assert.Equal(model.Messages, gateway.Messages);
        if (platform.Messages.FindIndex(m => m.StartsWith("Text:", StringComparison.Ordinal) && !Utf8IsValid(m)) is var bad and >= 0)
        {
            // The platform delivered an invalid text message: only ever one whose invalid bytes are an incomplete last
            // code point, completed by an empty final fragment it does not validate. The gateway failed it with 1007.
            var invalid = Convert.FromHexString(platform.Messages[bad][5..]);
            Assert.True(System.Text.Unicode.Utf8.IsValid(invalid.AsSpan(0, IncompleteTailStart(invalid))), $"the platform delivered invalid UTF-8 other than an incomplete last code point: {platform.Messages[bad]}");
            Assert.True(script.Bytes.AsSpan().IndexOf(s_emptyFinalContinuation) >= 0, "no empty final fragment in the stream");
            Assert.Equal(model.Messages.Take(bad), platform.Messages.Take(bad));
            Assert.Equal("Faulted 1007", gateway.Ending);
            return PlatformDeviation.UnvalidatedEmptyFinalFragment;
        }

        if (model.Utf8Undecided)
        {
            // The model judged invalid UTF-8 the sockets have not decided yet: an overlong or out-of-range prefix at a
            // fragment's end (they wait for its deciding byte, and may answer a ping first), or a truncated frame's
            // partial payload (validated only if a receive returned it). Gateway and platform must agree.
            Assert.True(gateway.Ending == model.Ending || gateway.Ending == model.UndecidedEnding, $"gateway {gateway.Ending}, model {model.Ending} or {model.UndecidedEnding}");
            Assert.Equal(platform, gateway, OutcomeComparer.Instance);
            return PlatformDeviation.None;
        }

        Assert.Equal(model.Ending, gateway.Ending);
        Assert.Equal(model.Written, gateway.Written);

        Assert.Equal(model.Messages, platform.Messages);
        if (model.CloseReasonInvalid && platform.Ending == "Faulted 1002")
        {
            Assert.Equal("Faulted 1007", model.Ending);
            Assert.Equal([.. model.Written[..^1], "88:03EA"], platform.Written);
            return PlatformDeviation.CloseReasonInvalidUtf8Answered1002;
        }

        Assert.Equal(model.Ending, platform.Ending);
        Assert.Equal(model.Written, platform.Written);
        return PlatformDeviation.None;
    }

    /// <summary>Where the last code point starts if it is incomplete (a lead byte and fewer continuation bytes than it needs), else the length.</summary>
    private static int IncompleteTailStart(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= 3 && back <= bytes.Length; back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) != 0x80)
            {
                var needed = b switch { >= 0xC0 and < 0xE0 => 2, >= 0xE0 and < 0xF0 => 3, >= 0xF0 and < 0xF8 => 4, _ => 1 };
                return needed > back ? bytes.Length - back : bytes.Length;
            }
        }

        return bytes.Length;
    }

    private static bool Utf8IsValid(string message) => System.Text.Unicode.Utf8.IsValid(Convert.FromHexString(message[(message.IndexOf(':', StringComparison.Ordinal) + 1)..]));

    private static WebSocket Platform(Stream stream) => WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });

    private static WebSocket Gateway(Stream stream) => new GatewayWebSocket(stream, null);

    /// <summary>
    /// Reads until the server's close (then echoes it, as the gateway's connection does), an error, or the end of the
    /// stream. Every call completes synchronously (<see cref="ScriptedStream"/>).
    /// </summary>
    private static Outcome Run(Func<Stream, WebSocket> create, Script script)
    {
        using var stream = new ScriptedStream(script.Bytes, script.Chunks);
        using var socket = create(stream);
        var messages = new List<string>();
        var message = new MemoryStream();
        var ending = "Looping";
        try
        {
            for (var i = 0; i < 1_000_000; i++)
            {
                var size = script.Park && message.Length == 0 && i % 2 == 0 ? 0 : script.Buffers[i % script.Buffers.Length];
                var buffer = new byte[size];
                var result = socket.ReceiveAsync(buffer.AsMemory(), default).AsTask().GetAwaiter().GetResult();
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ending = $"Close {(int?)socket.CloseStatus} {socket.CloseStatusDescription}";
                    socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.Empty, socket.CloseStatusDescription, default).GetAwaiter().GetResult();
                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    messages.Add($"{result.MessageType}:{Convert.ToHexString(message.ToArray())}");
                    message.SetLength(0);
                }
            }
        }
        catch (WebSocketException e)
        {
            var close = stream.WrittenFrames.LastOrDefault(f => f.Opcode == 0x8);
            ending = e.WebSocketErrorCode == WebSocketError.Faulted ? $"Faulted {close?.CloseCode}" : e.WebSocketErrorCode.ToString();
        }

        return new Outcome(messages, ending, [.. stream.WrittenFrames.Select(f => f.ToString())]);
    }

    private sealed record Script(byte[] Bytes, int[] Chunks, int[] Buffers, bool Park)
    {
        public override string ToString() => $"{Convert.ToHexString(Bytes.AsSpan(0, Math.Min(Bytes.Length, 600)))} .. {Convert.ToHexString(Bytes.AsSpan(Math.Max(0, Bytes.Length - 300)))} ({Bytes.Length} bytes) chunks [{string.Join(',', Chunks)}] buffers [{string.Join(',', Buffers)}] park {Park}";
    }

    /// <param name="Messages">Complete messages, "Type:HEX".</param>
    /// <param name="Ending">"Close code reason", "Faulted code" (the close code we sent) or the <see cref="WebSocketError"/> of the failure.</param>
    /// <param name="Written">The frames the client wrote, "first-byte:HEX-payload".</param>
    private sealed record Outcome(List<string> Messages, string Ending, string[] Written);

    private sealed class OutcomeComparer : IEqualityComparer<Outcome>
    {
        public static readonly OutcomeComparer Instance = new();

        public bool Equals(Outcome? x, Outcome? y) => x is not null && y is not null && x.Messages.SequenceEqual(y.Messages) && x.Ending == y.Ending && x.Written.SequenceEqual(y.Written);

        public int GetHashCode(Outcome obj) => obj.Ending.GetHashCode(StringComparison.Ordinal);
    }

    /// <summary>
    /// RFC 6455 from the client's side, frame by frame over the whole stream: what a correct client delivers, how
    /// the connection ends and what the client writes. Section numbers are the RFC's.
    /// </summary>
    private sealed class Rfc6455Model
    {
        private readonly List<string> _messages = [];
        private readonly List<string> _written = [];

        public IReadOnlyList<string> Messages => _messages;

        public string[] Written => [.. _written];

        public string Ending { get; private set; } = "ConnectionClosedPrematurely";

        /// <summary>
        /// Invalid UTF-8 found before the sockets decide it: an overlong or out-of-range prefix at a fragment's end, or
        /// in the partial payload of a frame the stream cut off; they may end with <see cref="UndecidedEnding"/> instead.
        /// </summary>
        public bool Utf8Undecided { get; private set; }

        public string? UndecidedEnding { get; private set; }

        public bool CloseReasonInvalid { get; private set; }

        public static Rfc6455Model Run(byte[] stream)
        {
            var model = new Rfc6455Model();
            model.Read(stream);
            return model;
        }

        private void Read(ReadOnlySpan<byte> stream)
        {
            var open = false;
            var type = WebSocketMessageType.Text;
            var message = new List<byte>();
            while (stream.Length >= 2)
            {
                var first = stream[0];
                var second = stream[1];
                // A masked frame fails on its mask bit (below), before its masking key is in.
                var headerLength = (second & 0x7F) switch { 126 => 4, 127 => 10, _ => 2 };
                if (stream.Length < headerLength)
                {
                    return;
                }

                long length = (second & 0x7F) switch
                {
                    126 => BinaryPrimitives.ReadUInt16BigEndian(stream[2..]),
                    127 => BinaryPrimitives.ReadInt64BigEndian(stream[2..]),
                    var n => n,
                };
                var opcode = first & 0x0F;
                var fin = (first & 0x80) != 0;
                var control = opcode >= 0x8;

                // 5.2: RSV1-3 must be 0 without an extension; 5.1: a client must close on a masked frame; 5.2: the top bit of a
                // 64-bit length must be 0; 5.2: unknown opcodes; 5.5: control frames carry at most 125 bytes and are never
                // fragmented; 5.4: a continuation needs an open message, a new data frame needs none open; 5.5.1 and 7.4:
                // a close payload is empty or holds a 2-byte code.
                if ((first & 0x70) != 0 || (second & 0x80) != 0 || length < 0 || opcode is (>= 3 and <= 7) or >= 0xB
                    || (control && (length > 125 || !fin)) || (opcode == 0 && !open) || (opcode is 1 or 2 && open) || (opcode == 0x8 && length == 1))
                {
                    Fail(1002);
                    return;
                }

                var available = (int)Math.Min(length, stream.Length - headerLength);
                var payload = stream.Slice(headerLength, available);
                stream = stream[(headerLength + available)..];
                if (control)
                {
                    if (available < length)
                    {
                        return;
                    }

                    if (opcode == 0x9)
                    {
                        // 5.5.2: a pong with the ping's payload, as soon as practical.
                        _written.Add($"8A:{Convert.ToHexString(payload)}");
                    }
                    else if (opcode == 0x8)
                    {
                        Close(payload);
                        return;
                    }

                    continue;
                }

                if (opcode != 0)
                {
                    open = true;
                    type = opcode == 1 ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                    message.Clear();
                }

                message.AddRange(payload);
                var complete = fin && available == length;
                if (type == WebSocketMessageType.Text && Utf8Check([.. message], complete) is var (invalid, deferred) && invalid)
                {
                    if (available < length)
                    {
                        // The stream ends inside this frame: a socket fails it only if a receive returned the bad bytes.
                        Utf8Undecided = true;
                        UndecidedEnding = "Faulted 1007";
                        return;
                    }

                    // 8.1: invalid UTF-8 in a text message fails the connection with 1007.
                    Fail(1007);
                    if (deferred)
                    {
                        Utf8Undecided = true;
                        UndecidedEnding = "ConnectionClosedPrematurely";
                    }

                    return;
                }

                if (available < length)
                {
                    return;
                }

                if (fin)
                {
                    _messages.Add($"{type}:{Convert.ToHexString([.. message])}");
                    open = false;
                }
            }
        }

        private void Close(ReadOnlySpan<byte> payload)
        {
            var code = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1000;

            // 7.4.1 and 7.4.2: 1004-1006, 1015 and everything below 1000 are never sent; 1016-2999 are reserved for the RFC
            // and its extensions (none defined so far but 1012-1014, registered with IANA); 5000 and up do not exist.
            if (payload.Length >= 2 && code is not ((>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999)))
            {
                Fail(1002);
                return;
            }

            if (!System.Text.Unicode.Utf8.IsValid(payload[Math.Min(2, payload.Length)..]))
            {
                CloseReasonInvalid = true;
                Fail(1007);
                return;
            }

            // 5.5.1: answer a close with a close, echoing the code; the reason is echoed too (as the gateway's connection does).
            var reason = Encoding.UTF8.GetString(payload[Math.Min(2, payload.Length)..]);
            Ending = $"Close {code} {reason}";
            _written.Add($"88:{code:X4}{Convert.ToHexString(payload[Math.Min(2, payload.Length)..])}");
        }

        private void Fail(int code)
        {
            // 7.1.7: Fail the WebSocket Connection: send a close frame with the code, then end the connection.
            Ending = $"Faulted {code}";
            _written.Add($"88:{code:X4}");
        }

        /// <summary>
        /// Whether the message so far is invalid UTF-8, and whether that was found before the byte the sockets decide
        /// it on (an incomplete trailing sequence already overlong, a surrogate or past U+10FFFF).
        /// </summary>
        private static (bool Invalid, bool Deferred) Utf8Check(ReadOnlySpan<byte> bytes, bool complete)
        {
            var i = 0;
            while (i < bytes.Length)
            {
                var status = System.Text.Rune.DecodeFromUtf8(bytes[i..], out _, out var consumed);
                if (status == System.Buffers.OperationStatus.Done)
                {
                    i += consumed;
                    continue;
                }

                if (status == System.Buffers.OperationStatus.NeedMoreData)
                {
                    return (complete, false);
                }

                var tail = bytes[i..];
                var expected = tail[0] switch { >= 0xC0 and < 0xE0 => 2, >= 0xE0 and < 0xF0 => 3, >= 0xF0 and < 0xF8 => 4, _ => 1 };
                var deferred = !complete && tail.Length < expected && tail[1..].IndexOfAnyExceptInRange((byte)0x80, (byte)0xBF) < 0;
                return (true, deferred);
            }

            return (false, false);
        }
    }
}
