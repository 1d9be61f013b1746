using System.Net.WebSockets;
using CsCheck;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed class WebSocketMessageReaderTests : IDisposable
{
    private const int MaxMessageSize = 64 * 1024;
    private static readonly TimeSpan s_waitLimit = TimeSpan.FromSeconds(10);

    private readonly WebSocketPair _pair = WebSocketPair.Create();
    private readonly FrameBufferPool _pool = new(maxRetainedPerSize: 16);
    private readonly WebSocketMessageReader _reader;

    public WebSocketMessageReaderTests() => _reader = new WebSocketMessageReader(_pool, MaxMessageSize);

    public void Dispose() => _pair.Dispose();

    private static byte[] Payload(int length, FrameKind kind, int seed = 1)
    {
        var random = new Random(seed);
        var payload = new byte[length];
        for (var i = 0; i < length; i++)
        {
            payload[i] = kind == FrameKind.Text ? (byte)random.Next(0x20, 0x7F) : (byte)random.Next(256);
        }

        return payload;
    }

    /// <summary>Sends <paramref name="payload"/> from the server, in fragments of <paramref name="fragment"/> bytes (0: one frame).</summary>
    private static async Task SendAsync(WebSocket socket, byte[] payload, FrameKind kind, int fragment = 0)
    {
        var type = kind == FrameKind.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        if (fragment <= 0 || payload.Length <= fragment)
        {
            await socket.SendAsync(payload, type, endOfMessage: true, CancellationToken.None);
            return;
        }

        for (var offset = 0; offset < payload.Length; offset += fragment)
        {
            var length = Math.Min(fragment, payload.Length - offset);
            await socket.SendAsync(payload.AsMemory(offset, length), type, endOfMessage: offset + length == payload.Length, CancellationToken.None);
        }
    }

    private async Task<ReadResult> ReadAsync() => await _reader.ReadAsync(_pair.Client).AsTask().WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);

    private void AssertMessage(ReadResult result, byte[] expected, FrameKind kind)
    {
        Assert.Equal(ReadOutcome.Message, result.Outcome);
        Assert.Equal(kind, result.Kind);
        Assert.Equal(expected.Length, result.Count);
        Assert.NotNull(result.Buffer);
        Assert.True(result.Buffer.AsSpan(0, result.Count).SequenceEqual(expected));
        _pool.Return(result.Buffer);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(125, 0)]
    [InlineData(256, 0)]
    [InlineData(257, 0)]
    [InlineData(16 * 1024, 0)]
    [InlineData(16 * 1024 + 1, 0)]
    [InlineData(40_000, 0)]
    [InlineData(MaxMessageSize, 0)]
    [InlineData(1000, 1)]
    [InlineData(1000, 100)]
    [InlineData(40_000, 4096)]
    [InlineData(MaxMessageSize, 1000)]
    [InlineData(MaxMessageSize, MaxMessageSize - 1)]
    public async Task ReadAsync_MessageUpToTheLimit_ReadWhole(int length, int fragment)
    {
        foreach (var kind in new[] { FrameKind.Binary, FrameKind.Text })
        {
            var payload = Payload(length, kind);
            await SendAsync(_pair.Server, payload, kind, fragment);

            AssertMessage(await ReadAsync(), payload, kind);
        }
    }

    [Fact]
    public async Task ReadAsync_MessagesBackToBackOfGrowingAndShrinkingSizes_EachReadWhole()
    {
        int[] sizes = [10, 300, 20_000, 5, 16 * 1024, 70, MaxMessageSize, 0, 1];
        foreach (var (size, i) in sizes.Select((s, i) => (s, i)))
        {
            await SendAsync(_pair.Server, Payload(size, FrameKind.Binary, i), FrameKind.Binary);
        }

        foreach (var (size, i) in sizes.Select((s, i) => (s, i)))
        {
            AssertMessage(await ReadAsync(), Payload(size, FrameKind.Binary, i), FrameKind.Binary);
        }
    }

    [Fact]
    public async Task ReadAsync_ReadStartedBeforeTheMessage_ParksThenReadsIt()
    {
        var reading = ReadAsync();
        Assert.False(reading.IsCompleted);

        var payload = Payload(3000, FrameKind.Text);
        await SendAsync(_pair.Server, payload, FrameKind.Text, fragment: 700);

        AssertMessage(await reading, payload, FrameKind.Text);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(MaxMessageSize)]
    public async Task ReadAsync_OneByteOverTheLimit_TooLargeAndNothingKept(int fragment)
    {
        await SendAsync(_pair.Server, Payload(MaxMessageSize + 1, FrameKind.Binary), FrameKind.Binary, fragment);

        var result = await ReadAsync();

        Assert.Equal(ReadOutcome.TooLarge, result.Outcome);
        Assert.Null(result.Buffer);
    }

    [Fact]
    public async Task ReadAsync_FarOverTheLimitInManyFragments_TooLargeWithoutReadingItAll()
    {
        var sending = SendAsync(_pair.Server, Payload(4 * MaxMessageSize, FrameKind.Binary), FrameKind.Binary, fragment: 10_000);

        var result = await ReadAsync();

        Assert.Equal(ReadOutcome.TooLarge, result.Outcome);
        Assert.Equal(MaxMessageSize + 1, result.Count);
        await sending.WaitAsync(s_waitLimit, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ReadAsync_PeerCloses_Close()
    {
        await _pair.Server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);

        var result = await ReadAsync();

        Assert.Equal(ReadOutcome.Close, result.Outcome);
        Assert.Null(result.Buffer);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, _pair.Client.CloseStatus);
    }

    [Fact]
    public async Task ReadAsync_CloseAfterMessages_MessagesThenClose()
    {
        await SendAsync(_pair.Server, [1, 2], FrameKind.Binary);
        await _pair.Server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);

        AssertMessage(await ReadAsync(), [1, 2], FrameKind.Binary);
        Assert.Equal(ReadOutcome.Close, (await ReadAsync()).Outcome);
    }

    [Fact]
    public async Task ReadAsync_CloseInTheMiddleOfAFragmentedMessage_CloseAndBufferReturned()
    {
        await _pair.Server.SendAsync(new byte[5000], WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
        await _pair.Server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);

        var result = await ReadAsync();

        Assert.Equal(ReadOutcome.Close, result.Outcome);
        Assert.Null(result.Buffer);
        Assert.True(_pool.Retained > 0);
    }

    private sealed record Sent(byte[] Payload, FrameKind Kind, int Fragment, bool ReadFirst);

    private static readonly Gen<Sent> s_message =
        Gen.Select(
            Gen.Frequency((3, Gen.Int[0, 300]), (3, Gen.Int[301, 20_000]), (1, Gen.Int[MaxMessageSize - 2, MaxMessageSize])),
            Gen.Enum<FrameKind>(),
            Gen.Frequency((2, Gen.Const(0)), (1, Gen.Int[1, 64]), (2, Gen.Int[65, 20_000])),
            Gen.Bool,
            Gen.Int)
        .Select((length, kind, fragment, readFirst, seed) => new Sent(Payload(length, kind, seed), kind, fragment, readFirst));

    [Fact]
    public async Task ReadAsync_AnySizesKindsAndFragmentations_EveryMessageReadEqualsWhatWasSent()
    {
        await s_message.Array[1, 8].SampleAsync(async messages =>
        {
            using var pair = WebSocketPair.Create();
            var pool = new FrameBufferPool(maxRetainedPerSize: 4);
            var reader = new WebSocketMessageReader(pool, MaxMessageSize);
            foreach (var message in messages)
            {
                // Read first: the reader parks before the message starts; send first: it is already buffered.
                var reading = message.ReadFirst ? reader.ReadAsync(pair.Client).AsTask() : null;
                await SendAsync(pair.Server, message.Payload, message.Kind, message.Fragment);
                var result = await (reading ?? reader.ReadAsync(pair.Client).AsTask()).WaitAsync(s_waitLimit);

                Assert.Equal((ReadOutcome.Message, message.Kind, message.Payload.Length), (result.Outcome, result.Kind, result.Count));
                Assert.NotNull(result.Buffer);
                Assert.True(result.Buffer.AsSpan(0, result.Count).SequenceEqual(message.Payload));
                pool.Return(result.Buffer);
            }
        }, iter: 60, threads: 1, print: messages => string.Join(", ", messages.Select(m => $"{m.Kind} {m.Payload.Length} B in {m.Fragment} B fragments{(m.ReadFirst ? " (read first)" : string.Empty)}")));
    }
}
