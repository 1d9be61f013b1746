using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Transport;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Transport;

public sealed partial class GatewayWebSocketTests
{
    private static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(100_003)]
    public async Task SendAsync_PayloadSizes_ServerReceivesSameBytes(int size)
    {
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);
        var payload = Payload(size);
        var copy = payload.ToArray();

        var reading = ReadMessageAsync(server);
        await client.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, Timeout);
        var (type, received) = await reading;

        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(payload, received);
        Assert.Equal(copy, payload);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    public async Task ReceiveAsync_PayloadSizes_ClientReceivesSameBytes(int size)
    {
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, "raw");
        var payload = Payload(size);

        await server.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, Timeout);
        await server.SendAsync(Encoding.UTF8.GetBytes("héllo €𝄞"), WebSocketMessageType.Text, endOfMessage: true, Timeout);

        var (binaryType, binary) = await ReadMessageAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, binaryType);
        Assert.Equal(payload, binary);
        var (type, text) = await ReadMessageAsync(client);
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("héllo €𝄞", Encoding.UTF8.GetString(text));
        Assert.Equal("raw", client.SubProtocol);
    }

    [Fact]
    public async Task SendAsync_Fragments_ServerReceivesOneMessage()
    {
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);

        var reading = ReadMessageAsync(server);
        await client.SendAsync("ab"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, Timeout);
        await client.SendAsync(ReadOnlyMemory<byte>.Empty, WebSocketMessageType.Text, endOfMessage: false, Timeout);
        await client.SendAsync("cd"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, Timeout);

        var (type, message) = await reading;
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("abcd"u8.ToArray(), message);
    }

    [Fact]
    public async Task ReceiveAsync_FragmentsWithPingBetween_DeliversPiecesAndAnswersThePing()
    {
        using var stream = new ScriptedStream(ServerFrame.Encode(
        [
            new ServerFrame(0x01, "he"u8.ToArray()),
            new ServerFrame(0x89, "p1"u8.ToArray()),
            new ServerFrame(0x00, []),
            new ServerFrame(0x80, "llo"u8.ToArray()),
        ]));
        using var client = new GatewayWebSocket(stream, null);
        var buffer = new byte[16];

        var first = await client.ReceiveAsync(buffer.AsMemory(), Timeout);
        var second = await client.ReceiveAsync(buffer.AsMemory(2), Timeout);
        var third = await client.ReceiveAsync(buffer.AsMemory(2), Timeout);

        Assert.Equal((2, WebSocketMessageType.Text, false), (first.Count, first.MessageType, first.EndOfMessage));
        Assert.Equal((0, false), (second.Count, second.EndOfMessage));
        Assert.Equal((3, true), (third.Count, third.EndOfMessage));
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, 5));
        var pong = Assert.Single(stream.WrittenFrames);
        Assert.Equal(0x8A, pong.First);
        Assert.Equal("p1"u8.ToArray(), pong.Payload);
    }

    [Fact]
    public async Task ReceiveAsync_ZeroByteWithNothingBuffered_ParksWithoutABufferThenReportsTheMessageType()
    {
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);

        var park = client.ReceiveAsync(Memory<byte>.Empty, Timeout);
        await Task.Delay(20);
        Assert.False(park.IsCompleted);
        Assert.False(client.HoldsReceiveBuffer);
        Assert.Equal(1, stream.ZeroByteReads);

        await server.SendAsync("hi"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, Timeout);
        var parked = await park;
        var buffer = new byte[8];
        var read = await client.ReceiveAsync(buffer.AsMemory(), Timeout);

        Assert.Equal((0, WebSocketMessageType.Text, false), (parked.Count, parked.MessageType, parked.EndOfMessage));
        Assert.Equal((2, true), (read.Count, read.EndOfMessage));
        Assert.False(client.HoldsReceiveBuffer);
    }

    [Fact]
    public async Task ReceiveAsync_FramesAlreadyBuffered_CompletesSynchronouslyAndReturnsTheBufferWhenEmpty()
    {
        using var stream = new ScriptedStream(ServerFrame.Encode([ServerFrame.Text("a"), ServerFrame.Text("bc"), ServerFrame.Text("def")]));
        using var client = new GatewayWebSocket(stream, null);
        var buffer = new byte[8];

        Assert.Equal(1, (await client.ReceiveAsync(buffer.AsMemory(), Timeout)).Count);
        Assert.True(client.HoldsReceiveBuffer);
        var second = client.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal(2, (await second).Count);
        var third = client.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
        Assert.True(third.IsCompletedSuccessfully);
        await third;
        Assert.Equal(3, (await client.ReceiveAsync(buffer.AsMemory(), Timeout)).Count);
        Assert.False(client.HoldsReceiveBuffer);
    }

    [Fact]
    public async Task ReceiveAsync_ServerCloses_CloseReceivedThenCloseOutputClosesAndDisposesTheStream()
    {
        using var stream = new ScriptedStream(ServerFrame.Encode([ServerFrame.Close(4001, "bye"u8.ToArray())]));
        using var client = new GatewayWebSocket(stream, null);

        var result = await client.ReceiveAsync(new byte[8].AsMemory(), Timeout);

        Assert.Equal((WebSocketMessageType.Close, true), (result.MessageType, result.EndOfMessage));
        Assert.Equal(WebSocketState.CloseReceived, client.State);
        Assert.Equal((WebSocketCloseStatus)4001, client.CloseStatus);
        Assert.Equal("bye", client.CloseStatusDescription);
        Assert.False(stream.Disposed);

        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", Timeout);

        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.True(stream.Disposed);
        var close = Assert.Single(stream.WrittenFrames);
        Assert.Equal((0x88, 1000), (close.First, close.CloseCode));
        Assert.Equal("ok"u8.ToArray(), close.Payload[2..]);
    }

    [Fact]
    public async Task CloseAsync_ServerAnswers_ClosedWithTheServersStatus()
    {
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);

        var serverSide = Task.Run(async () =>
        {
            var (type, _) = await ReadMessageAsync(server);
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, server.CloseStatus);
            await server.SendAsync("late"u8.ToArray(), WebSocketMessageType.Text, true, Timeout);
            await server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", Timeout);
        });
        await client.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "going", Timeout);
        await serverSide;

        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        Assert.Equal("done", client.CloseStatusDescription);
    }

    [Fact]
    public async Task CloseOutputAsync_ThenServerCloses_ReceiveReturnsCloseAndStateIsClosed()
    {
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);

        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, Timeout);
        Assert.Equal(WebSocketState.CloseSent, client.State);
        Assert.Equal(WebSocketMessageType.Close, (await ReadMessageAsync(server)).Type);
        await server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, Timeout);

        var result = await client.ReceiveAsync(new byte[4].AsMemory(), Timeout);

        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketState.Closed, client.State);
        await Assert.ThrowsAsync<WebSocketException>(() => client.SendAsync(new byte[1].AsMemory(), WebSocketMessageType.Binary, true, Timeout).AsTask());
    }

    [Fact]
    public async Task Abort_PendingReceive_ThrowsOperationCanceledAndStateIsAborted()
    {
        var (stream, _) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);

        var pending = client.ReceiveAsync(new byte[4].AsMemory(), Timeout);
        client.Abort();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.AsTask());
        Assert.Equal(WebSocketState.Aborted, client.State);
        Assert.False(client.HoldsReceiveBuffer);
    }

    [Fact]
    public async Task KeepAlive_IntervalPassed_SendsOnePingAndThePongClearsIt()
    {
        var time = new FakeTimeProvider();
        var (stream, server) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);
        var interval = TimeSpan.FromSeconds(30);
        var timeout = TimeSpan.FromSeconds(10);
        var serverReceive = server.ReceiveAsync(new byte[16].AsMemory(), Timeout).AsTask(); // answers pings

        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        time.Advance(TimeSpan.FromSeconds(29));
        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        Assert.False(client.PingOutstanding);
        time.Advance(TimeSpan.FromSeconds(1));
        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        Assert.True(client.PingOutstanding);

        // Receiving only now: a receive already pending could read the pong before the assertion above.
        var clientReceive = client.ReceiveAsync(new byte[16].AsMemory(), Timeout).AsTask();

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (client.PingOutstanding && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.False(client.PingOutstanding);
        time.Advance(TimeSpan.FromSeconds(20));
        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        Assert.Equal(WebSocketState.Open, client.State);
        Assert.False(clientReceive.IsCompleted);
        Assert.False(serverReceive.IsCompleted);
    }

    [Fact]
    public async Task KeepAlive_NoPongWithinTimeout_PendingReceiveThrowsTheCause()
    {
        var time = new FakeTimeProvider();
        var (stream, _) = PipeStream.CreatePair();
        using var client = new GatewayWebSocket(stream, null);
        var interval = TimeSpan.FromSeconds(30);
        var timeout = TimeSpan.FromSeconds(10);
        var pending = client.ReceiveAsync(Memory<byte>.Empty, Timeout).AsTask();

        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        time.Advance(interval);
        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        time.Advance(timeout);
        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);
        Assert.Equal(WebSocketState.Open, client.State);
        time.Advance(TimeSpan.FromMilliseconds(250));
        client.KeepAlive(time.GetTimestamp(), interval, timeout, time);

        var error = await Assert.ThrowsAsync<WebSocketException>(() => pending);
        Assert.Equal("no pong within KeepAliveTimeout 10 s", error.Message);
        Assert.Equal(WebSocketError.Faulted, error.WebSocketErrorCode);
        Assert.Equal(WebSocketCloseStatus.Empty, GatewayWebSocketException.Of(error)!.SentCloseStatus);
        Assert.Equal(WebSocketState.Aborted, client.State);
        var next = await Assert.ThrowsAsync<WebSocketException>(() => client.ReceiveAsync(new byte[1].AsMemory(), Timeout).AsTask());
        Assert.Equal("no pong within KeepAliveTimeout 10 s", next.Message);
    }

    [Fact]
    public void KeepAlive_IntervalZero_SendsNothing()
    {
        var time = new FakeTimeProvider();
        using var stream = new ScriptedStream([]);
        using var client = new GatewayWebSocket(stream, null);

        for (var i = 0; i < 10; i++)
        {
            client.KeepAlive(time.GetTimestamp(), TimeSpan.Zero, TimeSpan.FromSeconds(1), time);
            time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Empty(stream.Written);
        Assert.Equal(WebSocketState.Open, client.State);
    }

    internal static byte[] Payload(int size)
    {
        var payload = new byte[size];
        for (var i = 0; i < size; i++)
        {
            payload[i] = (byte)(i * 7 + (i >> 8));
        }

        return payload;
    }

    private static async Task<(WebSocketMessageType Type, byte[] Payload)> ReadMessageAsync(WebSocket socket)
    {
        using var payload = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), Timeout);
            payload.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, payload.ToArray());
            }
        }
    }
}
