using System.Text;
using System.Text.Json;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Tests.Handlers;

public sealed class FileFrameHandlerTests : IDisposable
{
    private static readonly DateTimeOffset s_receivedAt = new(2024, 5, 1, 12, 30, 45, 123, TimeSpan.Zero);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-tests", Guid.NewGuid().ToString("N"));
    private readonly FileFrameHandler _handler;

    public FileFrameHandlerTests()
    {
        _handler = new FileFrameHandler(Options.Create(new FileHandlerOptions { Directory = _directory }));
    }

    public void Dispose()
    {
        _handler.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static Frame TextFrame(string socket, long seq, string text, long connection = 1)
        => new(Connection(socket, connection), seq, FrameKind.Text, Encoding.UTF8.GetBytes(text), s_receivedAt, 0);

    private static Frame BinaryFrame(string socket, long seq, byte[] payload, long connection = 1)
        => new(Connection(socket, connection), seq, FrameKind.Binary, payload, s_receivedAt, 0);

    private static UpstreamConnection Connection(string socket, long number)
        => new(socket, number, new Uri("ws://h/"), null, DateTimeOffset.UnixEpoch);

    private string PathOf(string socket) => Path.Combine(_directory, socket + ".jsonl");

    // Opens the file the way a tailing reader would, while the handler may still hold it open.
    private List<string> ReadLines(string socket)
    {
        using var stream = new FileStream(PathOf(socket), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    private ValueTask Handle(Frame frame) => _handler.HandleAsync(frame, TestContext.Current.CancellationToken);

    [Fact]
    public async Task HandleAsync_TextFrame_WritesOneJsonLineWithExactFields()
    {
        await Handle(TextFrame("prices", 1, "hello", connection: 3));

        var line = Assert.Single(ReadLines("prices"));
        Assert.Equal(
            """{"socket":"prices","connection":3,"seq":1,"receivedAt":"2024-05-01T12:30:45.123+00:00","kind":"text","text":"hello"}""",
            line);
    }

    [Fact]
    public async Task HandleAsync_BinaryFrame_WritesBase64()
    {
        await Handle(BinaryFrame("prices", 2, [1, 2, 3, 255]));

        using var json = JsonDocument.Parse(Assert.Single(ReadLines("prices")));
        var root = json.RootElement;
        Assert.Equal("prices", root.GetProperty("socket").GetString());
        Assert.Equal(1, root.GetProperty("connection").GetInt64());
        Assert.Equal(2, root.GetProperty("seq").GetInt64());
        Assert.Equal(s_receivedAt, root.GetProperty("receivedAt").GetDateTimeOffset());
        Assert.Equal("binary", root.GetProperty("kind").GetString());
        Assert.Equal("AQID/w==", root.GetProperty("base64").GetString());
        Assert.False(root.TryGetProperty("text", out _));
    }

    [Fact]
    public async Task HandleAsync_TwoSockets_WritesOneFilePerSocketInOrder()
    {
        await Handle(TextFrame("prices", 1, "p1"));
        await Handle(TextFrame("orders", 1, "o1"));
        await Handle(BinaryFrame("prices", 2, [9]));
        await Handle(TextFrame("prices", 3, "p3"));
        await Handle(BinaryFrame("orders", 2, [7, 7]));

        Assert.Equal(
            ["orders.jsonl", "prices.jsonl"],
            Directory.GetFiles(_directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var prices = ReadLines("prices").Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([1L, 2L, 3L], prices.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal(["text", "binary", "text"], prices.Select(e => e.GetProperty("kind").GetString()));
        Assert.All(prices, e => Assert.Equal("prices", e.GetProperty("socket").GetString()));
        Assert.Equal("p1", prices[0].GetProperty("text").GetString());
        Assert.Equal("CQ==", prices[1].GetProperty("base64").GetString());
        Assert.Equal("p3", prices[2].GetProperty("text").GetString());

        var orders = ReadLines("orders").Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([1L, 2L], orders.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal("o1", orders[0].GetProperty("text").GetString());
        Assert.Equal("Bwc=", orders[1].GetProperty("base64").GetString());
    }

    [Fact]
    public async Task HandleAsync_WhileHandlerHoldsFileOpen_ReaderSeesEveryLineSoFar()
    {
        for (var seq = 1; seq <= 3; seq++)
        {
            await Handle(TextFrame("prices", seq, $"frame {seq}"));

            var lines = ReadLines("prices");
            Assert.Equal(seq, lines.Count);
            Assert.Equal($"frame {seq}", JsonDocument.Parse(lines[^1]).RootElement.GetProperty("text").GetString());
        }

        // Ends with a newline, so a tailing reader never sees half a line.
        Assert.EndsWith("\n", File.ReadAllText(PathOf("prices")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandleAsync_TextWithQuotesAndNonAscii_RoundTrips()
    {
        const string text = "héllo \"q\" <b>&\\ 🚀\nnext";

        await Handle(TextFrame("prices", 1, text));

        var line = Assert.Single(ReadLines("prices"));
        Assert.Contains("héllo", line, StringComparison.Ordinal);
        Assert.Equal(text, JsonDocument.Parse(line).RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public async Task HandleAsync_ExistingFile_AppendsToIt()
    {
        Directory.CreateDirectory(_directory);
        await File.WriteAllTextAsync(PathOf("prices"), "{\"old\":true}\n", TestContext.Current.CancellationToken);

        await Handle(TextFrame("prices", 1, "new"));

        var lines = ReadLines("prices");
        Assert.Equal(2, lines.Count);
        Assert.Equal("{\"old\":true}", lines[0]);
        Assert.Equal("new", JsonDocument.Parse(lines[1]).RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public async Task HandleAsync_ExistingFileEndsInTornLine_NewRecordStartsOnItsOwnLine()
    {
        Directory.CreateDirectory(_directory);
        await File.WriteAllTextAsync(PathOf("prices"), "{\"old\":true}\n{\"torn\":", TestContext.Current.CancellationToken);

        await Handle(TextFrame("prices", 1, "new"));

        var lines = ReadLines("prices");
        Assert.Equal(["{\"old\":true}", "{\"torn\":"], lines[..2]);
        Assert.Equal("new", JsonDocument.Parse(lines[2]).RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public async Task HandleAsync_FrameWithHeaders_WritesThemDecodedFirstValueWinning()
    {
        var headers = new FrameHeaders(Encoding.UTF8.GetBytes("destination:/queue/a\nmessage-id:7\\c1\ndestination:/queue/b\n"));
        await Handle(new Frame(Connection("q", 1), 1, FrameKind.Text, Encoding.UTF8.GetBytes("body"), headers, s_receivedAt, 0));

        Assert.Equal(
            """{"socket":"q","connection":1,"seq":1,"receivedAt":"2024-05-01T12:30:45.123+00:00","headers":{"destination":"/queue/a","message-id":"7:1"},"kind":"text","text":"body"}""",
            Assert.Single(ReadLines("q")));
    }

    [Fact]
    public async Task HandleAsync_MissingDirectory_IsCreated()
    {
        Assert.False(Directory.Exists(_directory));

        await Handle(TextFrame("prices", 1, "x"));

        Assert.True(File.Exists(PathOf("prices")));
    }

    [Fact]
    public async Task HandleAsync_ConcurrentFramesOfOneSocket_WritesWholeLines()
    {
        await Parallel.ForAsync(1, 201, TestContext.Current.CancellationToken, async (seq, ct) =>
            await _handler.HandleAsync(TextFrame("prices", seq, new string('x', seq)), ct));

        var seqs = ReadLines("prices").Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64());
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), seqs.Order());
    }

    [Fact]
    public async Task HandleAsync_InvalidUtf8Text_WritesReplacementCharacterOnAWellFormedLine()
    {
        await Handle(TextFrame("prices", 1, "before"));
        await Handle(new Frame(Connection("prices", 1), 2, FrameKind.Text, new byte[] { 0x61, 0xFF, 0x62 }, s_receivedAt, 0));
        await Handle(TextFrame("prices", 3, "after"));

        var texts = ReadLines("prices").Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString());
        Assert.Equal(["before", "a\uFFFDb", "after"], texts);
    }

    [Fact]
    public async Task Dispose_ClosesFiles()
    {
        await Handle(TextFrame("prices", 1, "x"));

        _handler.Dispose();

        // FileShare.None fails while another handle (the handler's) is open.
        using (new FileStream(PathOf("prices"), FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
        }

        Assert.Single(File.ReadAllLines(PathOf("prices")));
    }
}
