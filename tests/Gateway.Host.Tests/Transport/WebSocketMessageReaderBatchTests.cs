using System.Net.WebSockets;
using System.Text;
using CsCheck;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

/// <summary><see cref="WebSocketMessageReader.ReadBatchAsync"/> on the gateway's own socket: whole messages of a read as slices of one buffer.</summary>
public sealed class WebSocketMessageReaderBatchTests
{
    private const int MaxMessageSize = 64 * 1024;

    private readonly FrameBufferPool _pool = new(maxRetainedPerSize: 16);

    [Fact]
    public async Task ReadBatchAsync_ManyFramesInOneRead_OneBatchOfSlicesOfOneBuffer()
    {
        var frames = Enumerable.Range(0, 500).Select(i => ServerFrame.Text($"message {i}")).ToList();
        using var stream = new ScriptedStream(ServerFrame.Encode(frames));
        using var client = new GatewayWebSocket(stream, null);
        var reader = new WebSocketMessageReader(_pool, MaxMessageSize);
        var batch = new ReceiveBatch();

        var read = await reader.ReadBatchAsync(client, batch);

        Assert.Equal(ReadOutcome.Batch, read.Outcome);
        Assert.Equal(500, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(FrameKind.Text, batch[i].Kind);
            Assert.Equal($"message {i}", Encoding.UTF8.GetString(batch.Array, batch[i].Offset, batch[i].Length));
        }

        // Everything was consumed: the socket let go of the buffer, the batch still holds it.
        Assert.False(client.HoldsReceiveBuffer);
        batch.Clear();
    }

    [Fact]
    public async Task ReadBatchAsync_FloodOrTrickle_FloodSharesTheReadBufferTrickleGetsARightSizedCopy()
    {
        var flood = Enumerable.Range(0, 2000).Select(i => new ServerFrame(0x82, new byte[100])).ToList();
        using var floodStream = new ScriptedStream(ServerFrame.Encode(flood));
        using var floodSocket = new GatewayWebSocket(floodStream, null);
        using var trickleStream = new ScriptedStream(ServerFrame.Encode([ServerFrame.Text("a"), ServerFrame.Text("bc")]));
        using var trickleSocket = new GatewayWebSocket(trickleStream, null);
        var reader = new WebSocketMessageReader(_pool, MaxMessageSize);
        var batch = new ReceiveBatch();

        await reader.ReadBatchAsync(floodSocket, batch);
        var floodBuffer = batch.Array.Length;
        var floodMessages = batch.Count;
        Assert.True(floodSocket.HoldsReceiveBuffer); // the partial frame at the end, in the same buffer
        batch.Clear();
        await reader.ReadBatchAsync(trickleSocket, batch);

        Assert.Equal(64 * 1024, floodBuffer);
        Assert.InRange(floodMessages, 600, 660);
        Assert.Equal(2, batch.Count);
        Assert.Equal(256, batch.Array.Length); // the smallest buffer of the socket's pool
        Assert.Equal("abc", Encoding.UTF8.GetString(batch.Array, 0, 3));
        batch.Clear();
    }

    [Fact]
    public async Task ReadBatchAsync_ControlFramesAndFragmentsBetween_EveryMessageInOrderPingAnswered()
    {
        var frames = new List<ServerFrame>
        {
            ServerFrame.Text("a"),
            new(0x8A, [1, 2]), // a pong, consumed on the way
            ServerFrame.Text("b"),
            new(0x89, [7, 7, 7]), // a ping: the message path answers it
            ServerFrame.Text("c"),
            ServerFrame.Text("d1", fin: false),
            new(0x89, [8]),
            new(0x80, Encoding.UTF8.GetBytes("d2")),
            new(0x82, [1, 2, 3]),
            ServerFrame.Close(1000),
        };
        using var stream = new ScriptedStream(ServerFrame.Encode(frames));
        using var client = new GatewayWebSocket(stream, null);

        var (messages, end) = await ReadAllAsync(client);

        Assert.Equal(["a", "b", "c", "d1d2", "\u0001\u0002\u0003"], messages.Select(m => m.Text));
        Assert.Equal([FrameKind.Text, FrameKind.Text, FrameKind.Text, FrameKind.Text, FrameKind.Binary], messages.Select(m => m.Kind));
        Assert.Equal(ReadOutcome.Close, end);
        var pongs = stream.WrittenFrames.Where(f => f.Opcode == 0xA).Select(f => f.Payload).ToList();
        Assert.Equal([[7, 7, 7], [8]], pongs);
    }

    [Fact]
    public async Task ReadBatchAsync_InvalidUtf8AfterValidMessages_ValidOnesDeliveredThen1007()
    {
        var bytes = ServerFrame.Encode([ServerFrame.Text("ok"), new ServerFrame(0x81, [0xC3, 0x28])]);
        using var stream = new ScriptedStream(bytes);
        using var client = new GatewayWebSocket(stream, null);
        var reader = new WebSocketMessageReader(_pool, MaxMessageSize);
        var batch = new ReceiveBatch();

        var first = await reader.ReadBatchAsync(client, batch);
        Assert.Equal((ReadOutcome.Batch, 1), (first.Outcome, batch.Count));
        batch.Clear();
        var error = await Assert.ThrowsAsync<WebSocketException>(async () => await reader.ReadBatchAsync(client, batch));

        Assert.Equal("invalid UTF-8 in a text message; gateway closed with 1007", error.Message);
        Assert.Equal(1007, Assert.Single(stream.WrittenFrames, f => f.Opcode == 0x8).CloseCode);
        Assert.False(client.HoldsReceiveBuffer);
    }

    [Fact]
    public async Task ReadBatchAsync_MessageOverMaxMessageSize_TooLarge()
    {
        var bytes = ServerFrame.Encode([ServerFrame.Text("small"), new ServerFrame(0x82, new byte[200])]);
        using var stream = new ScriptedStream(bytes);
        using var client = new GatewayWebSocket(stream, null);
        var reader = new WebSocketMessageReader(_pool, maxMessageSize: 100);
        var batch = new ReceiveBatch();

        var first = await reader.ReadBatchAsync(client, batch);
        batch.Clear();
        var second = await reader.ReadBatchAsync(client, batch);

        Assert.Equal(ReadOutcome.Batch, first.Outcome);
        Assert.Equal(ReadOutcome.TooLarge, second.Outcome);
    }

    [Fact]
    public async Task ReadBatchAsync_FramesLargerThanABatchRead_ReadAsMessages()
    {
        var large = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();
        using var stream = new ScriptedStream(ServerFrame.Encode([new ServerFrame(0x82, large), ServerFrame.Text("after"), ServerFrame.Close(1000)]));
        using var client = new GatewayWebSocket(stream, null);

        var (messages, end) = await ReadAllAsync(client, maxMessageSize: 200_000);

        Assert.Equal(large, messages[0].Bytes);
        Assert.Equal("after", messages[1].Text);
        Assert.Equal(ReadOutcome.Close, end);
    }

    [Fact]
    public async Task ReadBatchAsync_PlatformSocket_OneMessageAtATime()
    {
        var pair = WebSocketPair.Create();
        using var disposePair = pair;
        await pair.Server.SendAsync("x"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var reader = new WebSocketMessageReader(_pool, MaxMessageSize);
        var batch = new ReceiveBatch();

        var read = await reader.ReadBatchAsync(pair.Client, batch);

        Assert.Equal((ReadOutcome.Message, 1, 0), (read.Outcome, read.Count, batch.Count));
        _pool.Return(read.Buffer!);
    }

    [Fact]
    public void ReadBatchAsync_AnyStreamCutAnywhere_SameMessagesAsTheMessagePath()
    {
        // Small and medium frames (7- and 16-bit lengths), pings and pongs between, text and binary, any read sizes:
        // the batch path must give exactly the messages the message path gives.
        var frame = Gen.OneOf(
            Gen.Int[0, 300].Select(n => new ServerFrame(0x81, Encoding.ASCII.GetBytes(new string('t', n)))),
            Gen.Byte.Array[0, 2000].Select(b => new ServerFrame(0x82, b)),
            Gen.Byte.Array[0, 125].Select(b => new ServerFrame(0x89, b)),
            Gen.Byte.Array[0, 125].Select(b => new ServerFrame(0x8A, b)),
            Gen.Const(ServerFrame.Text("é€𝄞")));
        Gen.Select(frame.List[1, 60], Gen.Int[1, 70_000].Array[1, 5]).Sample(
            (frames, chunks) =>
            {
                var bytes = ServerFrame.Encode([.. frames, ServerFrame.Close(1000)]);
                var expected = frames.Where(f => (f.First & 0x0F) is 1 or 2).Select(f => Convert.ToHexString(f.Payload)).ToList();
                using var stream = new ScriptedStream(bytes, chunks);
                using var client = new GatewayWebSocket(stream, null);
                var (messages, end) = ReadAllAsync(client).GetAwaiter().GetResult();
                return end == ReadOutcome.Close && expected.SequenceEqual(messages.Select(m => Convert.ToHexString(m.Bytes)));
            },
            iter: 300);
    }

    private async Task<(List<(FrameKind Kind, byte[] Bytes, string Text)> Messages, ReadOutcome End)> ReadAllAsync(GatewayWebSocket client, int maxMessageSize = MaxMessageSize)
    {
        var reader = new WebSocketMessageReader(_pool, maxMessageSize);
        var batch = new ReceiveBatch();
        var messages = new List<(FrameKind, byte[], string)>();
        while (true)
        {
            var read = await reader.ReadBatchAsync(client, batch);
            if (read.Outcome == ReadOutcome.Batch)
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var bytes = batch.Array.AsSpan(batch[i].Offset, batch[i].Length).ToArray();
                    messages.Add((batch[i].Kind, bytes, Encoding.UTF8.GetString(bytes)));
                }

                batch.Clear();
            }
            else if (read.Outcome == ReadOutcome.Message)
            {
                var bytes = read.Buffer.AsSpan(0, read.Count).ToArray();
                messages.Add((read.Kind, bytes, Encoding.UTF8.GetString(bytes)));
                _pool.Return(read.Buffer!);
            }
            else
            {
                return (messages, read.Outcome);
            }
        }
    }
}
