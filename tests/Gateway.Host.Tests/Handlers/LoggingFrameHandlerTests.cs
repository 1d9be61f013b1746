using System.Text;
using Gateway.Host.Handlers;
using Gateway.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Gateway.Host.Tests.Handlers;

public sealed class LoggingFrameHandlerTests
{
    private static readonly UpstreamConnection s_connection = new("s", 1, new Uri("ws://h/"), null, DateTimeOffset.UnixEpoch);

    private static Frame TextFrame(string text, long seq = 1)
        => new(s_connection, seq, FrameKind.Text, Encoding.UTF8.GetBytes(text), DateTimeOffset.UnixEpoch, 0);

    private static Frame BinaryFrame(byte[] payload, long seq = 1)
        => new(s_connection, seq, FrameKind.Binary, payload, DateTimeOffset.UnixEpoch, 0);

    [Fact]
    public void Preview_ShortText_IsUnchanged()
    {
        Assert.Equal("hello, wörld", LoggingFrameHandler.Preview(TextFrame("hello, wörld")));
    }

    [Fact]
    public void Preview_EmptyPayload_IsEmpty()
    {
        Assert.Equal(string.Empty, LoggingFrameHandler.Preview(TextFrame(string.Empty)));
        Assert.Equal(string.Empty, LoggingFrameHandler.Preview(BinaryFrame([])));
    }

    [Fact]
    public void Preview_TextOfExactlyMaxBytes_IsNotTruncated()
    {
        var text = new string('a', LoggingFrameHandler.MaxPreviewBytes);

        Assert.Equal(text, LoggingFrameHandler.Preview(TextFrame(text)));
    }

    [Fact]
    public void Preview_TextLongerThanMaxBytes_IsTruncatedWithEllipsis()
    {
        var text = new string('a', 256) + "tail that is cut";

        var preview = LoggingFrameHandler.Preview(TextFrame(text));

        Assert.Equal(new string('a', 256) + "…", preview);
    }

    [Fact]
    public void Preview_OneByteOverMax_IsTruncated()
    {
        var text = new string('b', 257);

        Assert.Equal(new string('b', 256) + "…", LoggingFrameHandler.Preview(TextFrame(text)));
    }

    [Fact]
    public void Preview_TruncationInsideMultiByteCharacter_ShowsNoReplacementCharacter()
    {
        // 255 ASCII bytes, then 'é' (2 bytes) straddles the 256-byte limit.
        var text = new string('a', 255) + "éé";

        var preview = LoggingFrameHandler.Preview(TextFrame(text));

        Assert.Equal(new string('a', 255) + "…", preview);
    }

    [Fact]
    public void Preview_Binary_IsBase64()
    {
        Assert.Equal("AQID/w==", LoggingFrameHandler.Preview(BinaryFrame([1, 2, 3, 255])));
    }

    [Fact]
    public void Preview_LongBinary_IsBase64OfFirstMaxBytesWithEllipsis()
    {
        var payload = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();

        var preview = LoggingFrameHandler.Preview(BinaryFrame(payload));

        Assert.Equal(Convert.ToBase64String(payload, 0, 256) + "…", preview);
    }

    [Fact]
    public async Task HandleAsync_TextFrame_LogsEvent500WithPreview()
    {
        var logs = new FakeLogCollector();
        using var provider = new FakeLoggerProvider(logs);
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Information));
        var handler = new LoggingFrameHandler(factory.CreateLogger<LoggingFrameHandler>());

        await handler.HandleAsync(TextFrame("hello", seq: 7), TestContext.Current.CancellationToken);

        var entry = Assert.Single(logs.WithEventId(500));
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Equal("Frame s/1/7 Text 5 B: hello", entry.Message);
    }

    [Fact]
    public async Task HandleAsync_InformationDisabled_LogsNothing()
    {
        var logs = new FakeLogCollector();
        using var provider = new FakeLoggerProvider(logs);
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Warning));
        var handler = new LoggingFrameHandler(factory.CreateLogger<LoggingFrameHandler>());

        await handler.HandleAsync(TextFrame("hello"), TestContext.Current.CancellationToken);

        Assert.Empty(logs.GetSnapshot());
    }
}
