using System.Buffers;
using CsCheck;
using Gateway.Host.Protocols.Stomp;
using static Gateway.Host.Tests.Protocols.Stomp.StompTestFrames;

namespace Gateway.Host.Tests.Protocols.Stomp;

public sealed partial class StompParserTests
{
    private static readonly StompCommand[] s_serverCommands = [StompCommand.Connected, StompCommand.Message, StompCommand.Receipt, StompCommand.Error];

    private static readonly StompCommand[] s_clientCommands =
    [
        StompCommand.Connect, StompCommand.Stomp, StompCommand.Send, StompCommand.Subscribe, StompCommand.Unsubscribe, StompCommand.Begin,
        StompCommand.Commit, StompCommand.Abort, StompCommand.Ack, StompCommand.Nack, StompCommand.Disconnect,
    ];

    // Any Unicode but NUL and lone surrogates, with the escapable characters over-represented.
    private static readonly Gen<int> s_codePoint = Gen.Frequency(
        (4, Gen.Int[0x20, 0x7E]),
        (3, Gen.OneOf(Gen.Const((int)'\\'), Gen.Const((int)'\r'), Gen.Const((int)'\n'), Gen.Const((int)':'))),
        (1, Gen.Int[1, 0x1F]),
        (2, Gen.Int[0x80, 0x7FF]),
        (1, Gen.Int[0x800, 0xD7FF]),
        (1, Gen.Int[0xE000, 0xFFFF]),
        (1, Gen.Int[0x10000, 0x10FFFF]));

    private static readonly Gen<string> s_text = s_codePoint.Array[0, 12].Select(cps => string.Concat(cps.Select(char.ConvertFromUtf32)));

    // A few fixed names so that repeated headers are common.
    private static readonly Gen<string> s_name = Gen.Frequency(
        (3, Gen.OneOf(Gen.Const("destination"), Gen.Const("message-id"), Gen.Const("foo"), Gen.Const("a:b\\c"))),
        (2, s_text.Where(t => t.Length > 0 && t != "content-length")));

    private static readonly Gen<byte[]> s_body = Gen.Frequency(
        (4, Gen.Byte.Array[0, 40]),
        (1, Gen.Int[100, 600].SelectMany(n => Gen.Byte.Array[n])),
        (1, Gen.Const(Array.Empty<byte>())));

    private static readonly Gen<ModelFrame> s_serverFrame = Frame(s_serverCommands, client: false);

    private static readonly Gen<(ModelFrame[] Frames, byte[] Stream)> s_serverStream = Gen.Select(s_serverFrame.Array[1, 6], Gen.Int[0, 2], (frames, trailing) => (frames, Encode(frames, trailing)));

    // Cut points: random chunk sizes (repeated), one byte at a time, or a single chunk.
    private static readonly Gen<int[]> s_chunkSizes = Gen.Frequency(
        (4, Gen.Int[1, 40].Array[1, 8]),
        (1, Gen.Int[1, 3].Array[1, 4]),
        (1, Gen.Const(new[] { 1 })),
        (1, Gen.Const(new[] { int.MaxValue })));

    private static Gen<ModelFrame> Frame(StompCommand[] commands, bool client) => Gen.Select(
        Gen.OneOf(commands.Select(Gen.Const).ToArray()),
        Gen.Select(s_name, s_text).Array[0, 6],
        s_body,
        Gen.Bool,
        Gen.Int[0, 6],
        Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[1, 3])),
        Gen.Bool,
        (command, headers, body, contentLength, at, heartBeats, crLf) =>
        {
            if (!StompCommands.EscapesHeaders(command))
            {
                // CONNECT and CONNECTED cannot carry line breaks, nor a ':' in a name.
                headers = [.. headers.Select(h => (Strip(h.Item1, ":\r\n"), Strip(h.Item2, "\r\n"))).Where(h => h.Item1.Length > 0 && h.Item1 != "content-length")];
            }

            body = StompCommands.MayHaveBody(command) ? body : [];
            if (client)
            {
                // The encoder writes content-length for a SEND, and only for it.
                return new ModelFrame(command, headers, command == StompCommand.Send ? body : [], heartBeats);
            }

            if (contentLength)
            {
                headers = [.. headers.Take(at), ("content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. headers.Skip(at)];
            }
            else
            {
                body = [.. body.Select(b => b == 0 ? (byte)'x' : b)];
            }

            return new ModelFrame(command, headers, body, heartBeats, crLf);
        });

    private static string Strip(string text, string characters) => string.Concat(text.Where(c => !characters.Contains(c, StringComparison.Ordinal)));

    private static List<int> Cuts(int length, int[] sizes)
    {
        var cuts = new List<int>();
        for (int at = 0, i = 0; ; i++)
        {
            at += Math.Min(sizes[i % sizes.Length], length);
            if (at >= length)
            {
                return cuts;
            }

            cuts.Add(at);
        }
    }

    [Fact]
    public void Next_GeneratedServerStreamsCutAnywhere_SameFramesAndHeartBeats()
    {
        Gen.Select(s_serverStream, s_chunkSizes).Sample((stream, sizes) =>
        {
            var outcome = ParseCut(stream.Stream, Cuts(stream.Stream.Length, sizes));

            Assert.Null(outcome.Error);
            Assert.Equal(Expected(stream.Frames), outcome.Frames);
            Assert.Equal(stream.Frames.Sum(f => f.HeartBeatsBefore) + (stream.Stream.Length - Encode(stream.Frames).Length), outcome.HeartBeats);
            Assert.Equal(0, outcome.PendingBytes);
        }, iter: 400);
    }

    [Fact]
    public void Next_GeneratedServerStreamCutInTwoAtEveryOffset_SameFramesAndHeartBeats()
    {
        s_serverStream.Where(s => s.Stream.Length <= 600).Sample(stream =>
        {
            var whole = ParseCut(stream.Stream, []);
            Assert.Equal(Expected(stream.Frames), whole.Frames);
            for (var cut = 1; cut < stream.Stream.Length; cut++)
            {
                Assert.Equal(whole, ParseCut(stream.Stream, [cut]));
            }
        }, iter: 40);
    }

    [Fact]
    public void Next_FramesAroundTheMaximumSize_FailAtTheFirstTooLargeWhateverTheCut()
    {
        Gen.Select(s_serverStream, Gen.Int[8, 400], s_chunkSizes).Sample((stream, maxFrameSize, sizes) =>
        {
            var fitting = stream.Frames.TakeWhile(f => Encode(f with { HeartBeatsBefore = 0 }).Length <= maxFrameSize).ToArray();
            var whole = ParseCut(stream.Stream, [], maxFrameSize);
            var cut = ParseCut(stream.Stream, Cuts(stream.Stream.Length, sizes), maxFrameSize);

            Assert.Equal(whole, cut);
            Assert.Equal(Expected(fitting), whole.Frames);
            Assert.Equal(fitting.Length < stream.Frames.Length ? $"STOMP frame larger than the maximum of {maxFrameSize} bytes" : null, whole.Error);
        }, iter: 300);
    }

    private static readonly byte[] s_interesting = [0, (byte)'\n', (byte)'\r', (byte)':', (byte)'\\', (byte)'x', (byte)'t', 0xFF, 0xC3, (byte)'5'];

    [Fact]
    public void Next_MutatedStreams_NeverThrowAndSameOutcomeWhateverTheCut()
    {
        var mutation = Gen.Select(Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.Int[0, s_interesting.Length - 1]);
        Gen.Select(s_serverStream, mutation.Array[1, 4], Gen.Frequency((3, Gen.Const(1 << 20)), (1, Gen.Int[4, 200])), s_chunkSizes).Sample((stream, mutations, maxFrameSize, sizes) =>
        {
            var bytes = stream.Stream.ToList();
            foreach (var (kind, position, value) in mutations)
            {
                var at = position % (bytes.Count + 1);
                switch (kind)
                {
                    case 0 when at < bytes.Count: bytes[at] = s_interesting[value]; break;
                    case 1 when at < bytes.Count: bytes.RemoveAt(at); break;
                    case 2: bytes.Insert(at, s_interesting[value]); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }

            var mutated = bytes.ToArray();
            var whole = ParseCut(mutated, [], maxFrameSize);
            Assert.Equal(whole, ParseCut(mutated, Cuts(mutated.Length, sizes), maxFrameSize));
            Assert.Equal(whole, ParseCut(mutated, Cuts(mutated.Length, [1]), maxFrameSize));
            Assert.True(whole.Error is null || whole.Error.StartsWith("malformed STOMP frame: ", StringComparison.Ordinal) || whole.Error.StartsWith("STOMP frame larger", StringComparison.Ordinal), whole.Error);
        }, iter: 400);
    }

    [Fact]
    public void Write_GeneratedClientFrames_ParsedBackAndSameBytesAsTheReferenceEncoder()
    {
        Gen.Select(Frame(s_clientCommands, client: true).Array[1, 5], s_chunkSizes).Sample((frames, sizes) =>
        {
            var writer = new ArrayBufferWriter<byte>();
            foreach (var frame in frames)
            {
                for (var i = 0; i < frame.HeartBeatsBefore; i++)
                {
                    StompEncoder.WriteHeartBeat(writer);
                }

                StompEncoder.Write(writer, frame.Command, frame.Headers.Select(h => KeyValuePair.Create(h.Name, h.Value)).ToArray(), frame.Body);
            }

            // What the encoder means: the headers, then content-length for a SEND.
            var meant = frames.Select(f => f.Command == StompCommand.Send
                ? f with { Headers = [.. f.Headers, ("content-length", f.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))] }
                : f).ToArray();
            var written = writer.WrittenSpan.ToArray();
            Assert.Equal(Encode(meant), written);

            var outcome = ParseCut(written, Cuts(written.Length, sizes), acceptClientCommands: true);
            Assert.Null(outcome.Error);
            Assert.Equal(Expected(meant), outcome.Frames);
        }, iter: 300);
    }
}
