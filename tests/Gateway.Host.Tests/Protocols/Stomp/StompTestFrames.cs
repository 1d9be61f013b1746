using System.Text;
using Gateway.Host.Protocols.Stomp;

namespace Gateway.Host.Tests.Protocols.Stomp;

/// <summary>A frame as the tests mean it: what a reference encoder writes and what the parser must give back.</summary>
/// <param name="HeartBeatsBefore">EOLs written before the frame (after the previous one).</param>
/// <param name="CrLf">Lines, and heart-beats, end with CRLF rather than LF.</param>
internal sealed record ModelFrame(StompCommand Command, (string Name, string Value)[] Headers, byte[] Body, int HeartBeatsBefore = 0, bool CrLf = false)
{
    /// <summary>What the parser should report for it.</summary>
    public ParsedFrame Expected(int heartBeatsSoFar) => ParsedFrame.Of(Command, Headers, Body, heartBeatsSoFar);
}

/// <summary>A parsed frame flattened into comparable text.</summary>
internal sealed record ParsedFrame(StompCommand Command, string Headers, string Body, int HeartBeatsBefore)
{
    public static ParsedFrame Of(StompCommand command, IEnumerable<(string Name, string Value)> headers, ReadOnlySpan<byte> body, int heartBeatsBefore)
        => new(command, string.Join("\u2028", headers.Select(h => $"{Escape(h.Name)}={Escape(h.Value)}")), Convert.ToHexString(body), heartBeatsBefore);

    private static string Escape(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("=", "\\=", StringComparison.Ordinal);
}

/// <summary>The parser's whole output for a stream.</summary>
internal sealed record ParseOutcome(IReadOnlyList<ParsedFrame> Frames, int HeartBeats, string? Error, int PendingBytes)
{
    public bool Equals(ParseOutcome? other)
        => other is not null && Frames.SequenceEqual(other.Frames) && HeartBeats == other.HeartBeats && Error == other.Error && PendingBytes == other.PendingBytes;

    public override int GetHashCode() => HashCode.Combine(Frames.Count, HeartBeats, Error);

    public override string ToString() => $"{Frames.Count} frames, {HeartBeats} heart-beats, pending {PendingBytes}, error {Error ?? "none"}\n{string.Join("\n", Frames)}";
}

internal static class StompTestFrames
{
    /// <summary>A server's encoder, written from the specification independently of the parser: escapes unless CONNECTED (or CONNECT).</summary>
    public static byte[] Encode(ModelFrame frame)
    {
        var eol = frame.CrLf ? "\r\n" : "\n";
        var escape = frame.Command is not (StompCommand.Connect or StompCommand.Connected);
        var text = new StringBuilder();
        for (var i = 0; i < frame.HeartBeatsBefore; i++)
        {
            text.Append(eol);
        }

        text.Append(Encoding.ASCII.GetString(StompCommands.Utf8Name(frame.Command))).Append(eol);
        foreach (var (name, value) in frame.Headers)
        {
            text.Append(escape ? EscapeHeader(name) : name).Append(':').Append(escape ? EscapeHeader(value) : value).Append(eol);
        }

        text.Append(eol);
        return [.. Encoding.UTF8.GetBytes(text.ToString()), .. frame.Body, 0];
    }

    public static byte[] Encode(IEnumerable<ModelFrame> frames, int trailingHeartBeats = 0)
        => [.. frames.SelectMany(Encode), .. Enumerable.Repeat((byte)'\n', trailingHeartBeats)];

    public static string EscapeHeader(string text)
        => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal).Replace(":", "\\c", StringComparison.Ordinal);

    /// <summary>What the parser should report for <paramref name="frames"/>.</summary>
    public static List<ParsedFrame> Expected(IEnumerable<ModelFrame> frames)
    {
        var heartBeats = 0;
        var expected = new List<ParsedFrame>();
        foreach (var frame in frames)
        {
            heartBeats += frame.HeartBeatsBefore;
            expected.Add(frame.Expected(heartBeats));
        }

        return expected;
    }

    /// <summary>Feeds <paramref name="stream"/> cut at <paramref name="cuts"/> (ascending offsets) to a new parser.</summary>
    public static ParseOutcome ParseCut(byte[] stream, IEnumerable<int> cuts, int maxFrameSize = 1 << 20, bool acceptClientCommands = false)
    {
        var chunks = new List<byte[]>();
        var start = 0;
        foreach (var cut in cuts.Append(stream.Length))
        {
            chunks.Add(stream[start..cut]);
            start = cut;
        }

        return Parse(chunks, maxFrameSize, acceptClientCommands);
    }

    /// <summary>Feeds the chunks in order (each a fresh array, so a view that outlives its chunk shows) and collects everything.</summary>
    public static ParseOutcome Parse(IEnumerable<byte[]> chunks, int maxFrameSize = 1 << 20, bool acceptClientCommands = false)
    {
        using var parser = new StompParser(maxFrameSize, acceptClientCommands);
        var frames = new List<ParsedFrame>();
        var heartBeats = 0;
        foreach (var chunk in chunks)
        {
            var reader = parser.Read(chunk);
            var guard = 0;
            while (true)
            {
                Assert.True(++guard <= chunk.Length + 2, "the parser makes progress");
                var status = reader.Next(out var frame);
                if (status == StompReadStatus.Error)
                {
                    Assert.NotNull(reader.Error);
                    Assert.Equal(StompReadStatus.Error, reader.Next(out _));
                    return new ParseOutcome(frames, heartBeats + reader.HeartBeats, reader.Error, 0);
                }

                if (status == StompReadStatus.NeedMoreData)
                {
                    Assert.Equal(chunk.Length, reader.Consumed);
                    break;
                }

                frames.Add(Flatten(frame, heartBeats + reader.HeartBeats));
                if (!frame.IsBuffered)
                {
                    Assert.True(chunk.AsSpan(frame.BodyOffset, frame.Body.Length).SequenceEqual(frame.Body));
                }
            }

            heartBeats += reader.HeartBeats;
        }

        return new ParseOutcome(frames, heartBeats, null, parser.PendingBytes);
    }

    /// <summary>Reads a frame the way a consumer would, checking that lookups agree with the enumeration (first value wins).</summary>
    public static ParsedFrame Flatten(StompFrameView frame, int heartBeatsBefore)
    {
        var headers = new List<(string Name, string Value)>();
        foreach (var header in frame.Headers)
        {
            headers.Add((header.GetName(), header.GetValue()));
        }

        foreach (var name in headers.Select(h => h.Name).Distinct())
        {
            Assert.True(frame.TryGetHeader(name, out var value));
            Assert.Equal(headers.First(h => h.Name == name).Value, value);
        }

        return ParsedFrame.Of(frame.Command, headers, frame.Body, heartBeatsBefore);
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
