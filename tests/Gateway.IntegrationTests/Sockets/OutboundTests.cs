using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Tag = System.Collections.Generic.KeyValuePair<string, object?>;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>Outbound queue, disconnected policies, ordering, max age, groups, encoders and hooks, over real sockets.</summary>
public sealed class OutboundTests
{
    private static string[] Texts(UpstreamSession session) => [.. session.Received.Select(r => Encoding.UTF8.GetString(r.Data))];

    [Fact]
    public async Task Send_WhileDisconnectedUnderBuffer_QueuedThenFlushedInOrderAfterOnConnectExactlyOnce()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("OnConnect:0:Text", "hello")));
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");

        var results = new List<SendResult>();
        for (var i = 0; i < 5; i++)
        {
            results.Add(await gateway.Sender.SendTextAsync("a", $"q{i}"));
        }

        results.Add(await gateway.Sender.SendBinaryAsync("a", new byte[] { 1, 2 }));
        Assert.All(results, r => Assert.Equal(SendStatus.Queued, r.Status));
        Assert.Equal(6, gateway.Status("a").OutboundDepth);

        server.RejectHandshake = null;
        await Eventually.TrueAsync(() => server.LastSession?.Received.Count == 7, "the queue was flushed");
        await Task.Delay(200);
        var received = server.LastSession!.Received.ToArray();
        Assert.Equal(7, received.Length);
        Assert.Equal(["hello", "q0", "q1", "q2", "q3", "q4"], received.Take(6).Select(r => Encoding.UTF8.GetString(r.Data)));
        Assert.Equal(WebSocketMessageType.Binary, received[6].Type);
        Assert.Equal([1, 2], received[6].Data);
        Assert.Equal(0, gateway.Status("a").OutboundDepth);
    }

    [Fact]
    public async Task Send_PeerStoppedReading_AnswersQueuedWithinSendTimeoutNeverBlocks()
    {
        await using var peer = await SilentPeer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", peer.Url,
            ("Outbound:SendTimeout", "00:00:00.500"), ("MaxMessageSize", "1048576"), ("KeepAliveInterval", "00:00:00")));
        await Eventually.TrueAsync(() => gateway.Status("a").State == Gateway.Host.Health.SocketState.Ready, "connected to the peer");
        var payload = new byte[1_000_000];

        // The peer reads nothing: once the TCP buffers are full, writes stall. Every send still answers in time.
        var statuses = new List<SendStatus>();
        for (var i = 0; i < 64 && !statuses.Contains(SendStatus.Queued); i++)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            statuses.Add((await gateway.Sender.SendBinaryAsync("a", payload)).Status);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"send {i} took {started.Elapsed}");
        }

        Assert.Contains(SendStatus.Queued, statuses);
        Assert.All(statuses.TakeWhile(s => s != SendStatus.Queued), s => Assert.Equal(SendStatus.Sent, s));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var confirmed = await gateway.Sender.SendAndWaitAsync("a", OutboundMessage.Binary(payload));
        Assert.Equal(SendStatus.Queued, confirmed.Status);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(3), $"SendAndWaitAsync took {waited.Elapsed}");
        Assert.True(gateway.Status("a").OutboundDepth >= 1);
    }

    [Fact]
    public async Task Send_WhileDisconnectedUnderReject_NotConnectedAndNothingQueued()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("Outbound:WhileDisconnected", "Reject")));
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");

        Assert.Equal(SendStatus.NotConnected, (await gateway.Sender.SendTextAsync("a", "lost?")).Status);

        server.RejectHandshake = null;
        await Eventually.TrueAsync(() => server.ConnectionCount == 1, "connected");
        await Task.Delay(200);
        Assert.Empty(server.LastSession!.Received);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", "now")).Status);
    }

    [Fact]
    public async Task Send_QueueFull_RejectedWithQueueFullAndCounted()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = GatewayTestHost.Create(new TestConfig().Socket("a", server.Url(), ("Outbound:Capacity", "2")));
        using var outboundRejected = gateway.CollectMetric<long>("gateway.outbound.rejected");
        await gateway.StartAsync();
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");

        Assert.Equal(SendStatus.Queued, (await gateway.Sender.SendTextAsync("a", "1")).Status);
        Assert.Equal(SendStatus.Queued, (await gateway.Sender.SendTextAsync("a", "2")).Status);
        Assert.Equal(SendStatus.QueueFull, (await gateway.Sender.SendTextAsync("a", "3")).Status);
        var measured = outboundRejected.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.reason", "queue_full"));
        Assert.Equal(1, measured.EvaluateAsCounter());
    }

    [Fact]
    public async Task Send_QueuedLongerThanMaxAge_DroppedReportedAndNeverSent()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = GatewayTestHost.Create(new TestConfig().Socket("a", server.Url(), ("Outbound:MaxAge", "00:00:00.300")));
        using var outboundDropped = gateway.CollectMetric<long>("gateway.outbound.dropped");
        await gateway.StartAsync();
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");

        Assert.Equal(SendStatus.Queued, (await gateway.Sender.SendTextAsync("a", "stale")).Status);
        var waiting = gateway.Sender.SendAndWaitAsync("a", OutboundMessage.Text("stale too"));
        await Task.Delay(600);
        server.RejectHandshake = null;

        Assert.Equal(SendStatus.Expired, (await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", "fresh")).Status);
        await Eventually.TrueAsync(() => server.LastSession?.Received.Count == 1, "the fresh message arrived");
        Assert.Equal(["fresh"], Texts(server.LastSession!));
        Assert.Equal(2, gateway.Logs.WithEventId(111).Count);
        var measured = outboundDropped.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.reason", "expired"));
        Assert.Equal(2, measured.EvaluateAsCounter());
    }

    [Fact]
    public async Task SendAndWait_QueuedWhileDisconnected_CompletesOnlyWhenWritten()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");

        var waiting = gateway.Sender.SendAndWaitAsync("a", OutboundMessage.Text("eventually")).AsTask();
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        server.RejectHandshake = null;
        Assert.Equal(SendStatus.Sent, (await waiting.WaitAsync(TimeSpan.FromSeconds(10))).Status);
        await Eventually.TrueAsync(() => server.LastSession?.Received.Count == 1, "it arrived");
    }

    [Fact]
    public async Task Publish_GroupWithOneMemberDown_SentAndQueuedThenDeliveredOnce()
    {
        await using var up = await UpstreamServer.StartIdleAsync();
        await using var down = await UpstreamServer.StartIdleAsync();
        await using var outsider = await UpstreamServer.StartIdleAsync();
        down.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Socket("one", up.Url(), ("Groups:0", "g"))
            .Socket("two", down.Url(), ("Groups:0", "other"), ("Groups:1", "G"))
            .Socket("three", outsider.Url()));
        await Eventually.TrueAsync(() => gateway.Status("one").State == Gateway.Host.Health.SocketState.Ready && outsider.ConnectionCount == 1, "one and three connected");

        var results = await gateway.Sender.PublishAsync("g", OutboundMessage.Text("to the group"));

        Assert.Equal([new SendResult("one", SendStatus.Sent), new SendResult("two", SendStatus.Queued)], results);
        Assert.Empty(await gateway.Sender.PublishAsync("nobody", OutboundMessage.Text("x")));
        down.RejectHandshake = null;
        await Eventually.TrueAsync(() => down.LastSession?.Received.Count == 1, "the second member got it after coming back");
        await Task.Delay(200);
        Assert.Equal(["to the group"], Texts(down.LastSession!));
        Assert.Equal(["to the group"], Texts(up.LastSession!));
        Assert.Empty(outsider.LastSession!.Received);
    }

    [Fact]
    public async Task Send_EncodedValues_DefaultJsonEncoderAndNamedCustomEncoder()
    {
        await using var json = await UpstreamServer.StartIdleAsync();
        await using var custom = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("json", json.Url()).Socket("custom", custom.Url(), ("Outbound:Encoder", "shout")),
            services => services.AddOutboundEncoder<ShoutingEncoder>("shout"));
        await Eventually.TrueAsync(() => json.ConnectionCount == 1 && custom.ConnectionCount == 1, "connected");
        await Eventually.TrueAsync(() => gateway.Status("json").State == Gateway.Host.Health.SocketState.Ready && gateway.Status("custom").State == Gateway.Host.Health.SocketState.Ready, "ready");

        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendAsync("json", OutboundMessage.Encoded(new { Op = "subscribe", Channels = new[] { "a", "b" } }))).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendAsync("json", OutboundMessage.Encoded(new byte[] { 7 }))).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendAsync("custom", OutboundMessage.Encoded("quiet words"))).Status);

        await Eventually.TrueAsync(() => json.LastSession!.Received.Count == 2 && custom.LastSession!.Received.Count == 1, "all arrived");
        var first = json.LastSession!.Received.First();
        Assert.Equal(WebSocketMessageType.Text, first.Type);
        Assert.Equal("{\"op\":\"subscribe\",\"channels\":[\"a\",\"b\"]}", Encoding.UTF8.GetString(first.Data));
        Assert.Equal(WebSocketMessageType.Binary, json.LastSession.Received.Last().Type);
        Assert.Equal(["QUIET WORDS!"], Texts(custom.LastSession!));
    }

    [Fact]
    public async Task ConnectHook_SendsRuntimeSubscription_OnEveryConnection()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            if (s.Number == 1)
            {
                await Eventually.TrueAsync(() => s.Received.Count == 1, "the subscription arrived");
                await s.CloseAsync(WebSocketCloseStatus.NormalClosure);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("Handlers:0", "subscriber")),
            services => services.AddFrameHandler<SubscribingHandler>("subscriber"));

        await Eventually.TrueAsync(() => server.Sessions.Count == 2 && server.LastSession!.Received.Count == 1, "resubscribed");
        Assert.Equal(["subscribe as connection 1"], Texts(server.Sessions.First()));
        Assert.Equal(["subscribe as connection 2"], Texts(server.LastSession!));
    }

    [Fact]
    public async Task Stop_WithQueuedMessages_DropReportedInLogAndMetrics()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        var gateway = GatewayTestHost.Create(new TestConfig().Socket("a", server.Url()));
        using var outboundDropped = gateway.CollectMetric<long>("gateway.outbound.dropped");
        await gateway.StartAsync();
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");
        await gateway.Sender.SendTextAsync("a", "never");
        await gateway.Sender.SendTextAsync("a", "sent");
        var logs = gateway.Logs;

        await gateway.DisposeAsync();

        var report = Assert.Single(logs.WithEventId(112));
        Assert.Contains("2 outbound messages not written (2 of them reported as queued", report.Message, StringComparison.Ordinal);
        var measured = outboundDropped.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.reason", "stopped"));
        Assert.Equal(2, measured.EvaluateAsCounter());
    }

    [Fact]
    public async Task Send_ManyConcurrentCallers_WrittenInCallOrderTextAndBinaryInterleaved()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));
        await Eventually.TrueAsync(() => gateway.Status("a").State == Gateway.Host.Health.SocketState.Ready, "ready");

        // Started one after another without awaiting: each call is queued before it first yields.
        var sends = Enumerable.Range(0, 300)
            .Select(i => i % 3 == 0
                ? gateway.Sender.SendBinaryAsync("a", BitConverter.GetBytes(i)).AsTask()
                : gateway.Sender.SendTextAsync("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsTask())
            .ToList();
        var results = await Task.WhenAll(sends);

        Assert.All(results, r => Assert.Equal(SendStatus.Sent, r.Status));
        await Eventually.TrueAsync(() => server.LastSession!.Received.Count == 300, "all arrived");
        var received = server.LastSession!.Received.ToArray();
        for (var i = 0; i < 300; i++)
        {
            var value = received[i].Type == WebSocketMessageType.Binary
                ? BitConverter.ToInt32(received[i].Data)
                : int.Parse(Encoding.UTF8.GetString(received[i].Data), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(i, value);
        }
    }

    [Fact]
    public async Task SendAndWait_SocketRemovedWhileQueued_CompletesWithStopped()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        var config = new TestConfig().Socket("a", server.Url());
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");
        var waiting = gateway.Sender.SendAndWaitAsync("a", OutboundMessage.Text("never written")).AsTask();

        await gateway.ReloadAsync(config.Without("a"));

        Assert.Equal(SendStatus.Stopped, (await waiting.WaitAsync(TimeSpan.FromSeconds(10))).Status);
        Assert.Equal(SendStatus.UnknownSocket, (await gateway.Sender.SendTextAsync("a", "gone")).Status);
        Assert.Single(gateway.Logs.WithEventId(112));
    }

    private sealed class ShoutingEncoder : IOutboundEncoder
    {
        public FrameKind Encode(object value, IBufferWriter<byte> output)
        {
            Encoding.UTF8.GetBytes(value.ToString()!.ToUpperInvariant() + "!", output);
            return FrameKind.Text;
        }
    }

    private sealed class SubscribingHandler(ISocketSender sender) : IFrameHandler
    {
        public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async ValueTask OnConnectedAsync(UpstreamConnection connection, CancellationToken cancellationToken)
            => await sender.SendTextAsync(connection.SocketName, $"subscribe as connection {connection.Number}", cancellationToken);
    }
}
