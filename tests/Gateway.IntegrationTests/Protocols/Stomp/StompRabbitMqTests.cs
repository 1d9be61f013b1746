using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>The gateway's STOMP session against a real RabbitMQ with web-stomp (<c>.ci/rabbitmq.sh</c>).</summary>
[Collection(nameof(SharedBroker))]
public sealed class StompRabbitMqTests
{
    private static TestConfig Stomp(string queue, string ack = "client-individual", params (string Key, string? Value)[] more)
    {
        var settings = new List<(string, string?)>
        {
            ("Protocol", "Stomp"),
            ("Stomp:Login", RabbitMqBroker.Login),
            ("Stomp:Passcode", RabbitMqBroker.Passcode),
            ("Stomp:Subscriptions:0:Destination", $"/queue/{queue}"),
            ("Stomp:Subscriptions:0:Ack", ack),
        };
        settings.AddRange(more);
        return new TestConfig().Socket("q", RabbitMqBroker.WebStompUrl, [.. settings]);
    }

    [Fact]
    public async Task Subscribe_MessagesPublished_DeliveredWithHeadersAndAckedOnlyAfterHandling()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("deliver");
        await using var gateway = await GatewayTestHost.StartAsync(Stomp(queue));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");

        // Held in the handler: delivered, not yet acknowledged.
        gateway.Recorder.Pause();
        await broker.PublishAsync(queue, "first");
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 1);
        gateway.Recorder.Resume();
        await broker.PublishAsync(queue, "second", new Dictionary<string, object?> { ["x-tenant"] = "acme" });

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 2, "both delivered");
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0);
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal(["first", "second"], frames.Select(f => f.Text));
        var headers = frames[1].Headers.ToDictionary(h => h.Key, h => h.Value);
        Assert.Equal($"/queue/{queue}", headers["destination"]);
        Assert.Equal("sub-0", headers["subscription"]);
        Assert.Equal("acme", headers["x-tenant"]);
        Assert.True(headers.ContainsKey("message-id"));
    }

    [Fact]
    public async Task Subscribe_HandlerFails_NackedAndRedeliveredThenAcked()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("nack");
        await using var gateway = await GatewayTestHost.StartAsync(Stomp(queue).Set("Gateway:Sockets:q:Handlers:0", RecordingFrameHandler.Name).Set("Gateway:Sockets:q:Handlers:1", FailOnceHandler.Name),
            services => services.AddFrameHandler<FailOnceHandler>(FailOnceHandler.Name));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");

        await broker.PublishAsync(queue, "flaky");

        // The first delivery fails in a handler: NACK, and RabbitMQ delivers it again, marked redelivered.
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count >= 2, "redelivered after the NACK");
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal(["flaky", "flaky"], frames.Take(2).Select(f => f.Text));
        Assert.Equal("true", frames[1].Headers.Single(h => h.Key == "redelivered").Value);
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0);
        Assert.Equal(1, gateway.Status("q").HandlerErrors);
    }

    [Fact]
    public async Task SendAndWait_DefaultDestination_ConfirmedByTheBrokersReceipt()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("send");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("q", RabbitMqBroker.WebStompUrl,
            ("Protocol", "Stomp"), ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", RabbitMqBroker.Passcode), ("Stomp:DefaultDestination", $"/queue/{queue}")));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected");

        var result = await gateway.Sender.SendAndWaitAsync("q", OutboundMessage.Text("{\"order\":42}"));

        Assert.Equal(SendStatus.Confirmed, result.Status);
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 1, unacked: 0);
    }

    [Fact]
    public async Task Connect_WrongPasscode_ErrorFrameLoggedClosedAndRetried()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("q", RabbitMqBroker.WebStompUrl,
            ("Protocol", "Stomp"), ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", "wrong")));

        await Eventually.TrueAsync(() => gateway.Logs.WithEventId(600).Count >= 2, "the ERROR was logged on two attempts");
        var status = gateway.Status("q");
        Assert.NotEqual(SocketState.Ready, status.State);
        Assert.Contains("STOMP ERROR from the server", status.LastDisconnect ?? status.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Logs.GetSnapshot(), r => r.Message.Contains("wrong", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HeartBeat_IdlePastTheBrokersLimit_ConnectionKept()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("idle");
        await using var gateway = await GatewayTestHost.StartAsync(Stomp(queue, "client-individual",
            ("Stomp:HeartBeat:Outgoing", "00:00:02"), ("Stomp:HeartBeat:Incoming", "00:00:02"), ("KeepAliveInterval", "00:00:00")));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");

        // RabbitMQ closes a connection about 3 heart-beat periods (~6 s) without client heart-beats; wait past that.
        await Task.Delay(TimeSpan.FromSeconds(8));
        await broker.PublishAsync(queue, "still here");

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "still here"), "delivered", TimeSpan.FromSeconds(30));
        Assert.Equal(1, gateway.Recorder.Frames.Single().Connection);
        Assert.Equal(0, gateway.Status("q").Reconnects);
        Assert.Null(gateway.Status("q").LastDisconnect);
    }

    [Fact]
    public async Task StaleAfter_SubscriptionSilent_ResubscribedOnTheSameConnectionAndStillDelivers()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("stale");
        await using var gateway = await GatewayTestHost.StartAsync(Stomp(queue, "client-individual", ("Stomp:Subscriptions:0:StaleAfter", "00:00:01")));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");

        await Eventually.TrueAsync(() => gateway.Status("q").Subscriptions![0].Resubscribes >= 2, "resubscribed twice while silent");
        await broker.PublishAsync(queue, "after the resubscribe");

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "after the resubscribe"), "delivered");
        var subscription = gateway.Status("q").Subscriptions![0];
        Assert.Equal(("sub-0", $"/queue/{queue}", "Subscribed"), (subscription.Id, subscription.Destination, subscription.State));
        Assert.Equal(1, subscription.MessagesReceived);
        Assert.NotNull(subscription.LastMessageAt);
        Assert.Equal(1, gateway.Recorder.Frames.Single().Connection); // no reconnect
        Assert.True(gateway.Logs.WithEventId(601).Count >= 2);
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0);
    }

    [Fact]
    public async Task Reload_SubscriptionAddedAndRemoved_AppliedWithoutReconnecting()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var first = await broker.DeclareQueueAsync("live-a");
        var second = await broker.DeclareQueueAsync("live-b");
        await using var gateway = await GatewayTestHost.StartAsync(Stomp(first));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");
        await broker.PublishAsync(first, "a1");
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "a1 delivered");

        var diff = await gateway.ReloadAsync(Stomp(first).Set("Gateway:Sockets:q:Stomp:Subscriptions:0:Destination", $"/queue/{second}"));

        Assert.Equal(["q"], diff!.SubscriptionsChanged);
        Assert.Empty(diff.Changed);
        await broker.PublishAsync(second, "b1");
        await broker.PublishAsync(first, "a2");
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "b1"), "the new subscription delivers");
        await RabbitMqBroker.WaitForDepthAsync(first, ready: 1, unacked: 0); // the removed one no longer consumes
        Assert.All(gateway.Recorder.Frames, f => Assert.Equal(1, f.Connection));
        Assert.DoesNotContain(gateway.Recorder.Frames, f => f.Text == "a2");
        Assert.Equal($"/queue/{second}", Assert.Single(gateway.Status("q").Subscriptions!).Destination);
        Assert.Equal(0, gateway.Status("q").Reconnects);
    }

    [Fact]
    public async Task Stop_BrokerAnswersDisconnectByClosing_GoodbyeAcceptedNotLoggedAsFailed()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("goodbye");
        await using var gateway = await GatewayTestHost.StartAsync(Stomp(queue));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");

        await gateway.StopAsync();

        // RabbitMQ answers DISCONNECT (receipt requested) with close 1000, not a RECEIPT: either ends the goodbye.
        Assert.Empty(gateway.Logs.WithEventId(116));
        Assert.Single(gateway.Logs.WithEventId(114)); // stopped, with its summary
    }

    /// <summary>Throws the first time it sees each payload.</summary>
    private sealed class FailOnceHandler : IFrameHandler
    {
        public const string Name = "fail-once";
        private readonly HashSet<string> _seen = [];

        public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
            => _seen.Add(frame.GetText()) ? throw new InvalidOperationException("first delivery fails") : ValueTask.CompletedTask;
    }
}
