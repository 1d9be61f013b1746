using System.Text;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Handlers;

/// <summary>
/// Broker to gateway to broker, end to end against real servers: RabbitMQ queue A, read over STOMP
/// (<c>client-individual</c>), written by the <c>rabbitmq</c> sink to queue B. A message is ACKed on A
/// only once B confirmed it, so a gateway killed with SIGKILL or a broker restart loses nothing.
/// </summary>
[Collection(nameof(Protocols.Stomp.SharedBroker))]
public sealed class BridgeNoLossTests
{
    private const int Messages = 10_000;

    private static Dictionary<string, string> Bridge(string from, string to) => new()
    {
        ["Gateway__Sockets__demo__Enabled"] = "false",
        ["Gateway__Sockets__q__Url"] = RabbitMqBroker.WebStompUrl.ToString(),
        ["Gateway__Sockets__q__Protocol"] = "Stomp",
        ["Gateway__Sockets__q__Stomp__Login"] = RabbitMqBroker.Login,
        ["Gateway__Sockets__q__Stomp__Passcode"] = RabbitMqBroker.Passcode,
        ["Gateway__Sockets__q__Stomp__Subscriptions__0__Destination"] = $"/queue/{from}",
        ["Gateway__Sockets__q__Stomp__Subscriptions__0__Ack"] = "client-individual",
        ["Gateway__Sockets__q__Handlers__0"] = "rabbitmq",
        ["Gateway__Handlers__rabbitmq__RoutingKey"] = to,
        ["Serilog__MinimumLevel__Default"] = "Warning",
    };

    [Fact]
    public async Task Process_KilledMidStreamThenRestarted_EveryMessageReachesQueueB()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var (a, b) = (await broker.DeclareQueueAsync("bridge-a"), await broker.DeclareQueueAsync("bridge-b"));
        await broker.PublishManyAsync(a, Messages, i => $"m{i}");
        var environment = Bridge(a, b);

        await using (var first = GatewayProcess.Start(environment))
        {
            await Eventually.TrueAsync(async () => (await broker.GetReadyAsync(b)).Ready >= Messages / 5, "the first process is bridging", TimeSpan.FromSeconds(60));
            await first.KillAsync();
        }

        var atKill = (await broker.GetReadyAsync(b)).Ready;
        Assert.True(atKill < Messages, $"the kill came mid-stream ({atKill} of {Messages} in B)");

        await using var second = GatewayProcess.Start(environment);
        await RabbitMqBroker.WaitForDepthAsync(a, ready: 0, unacked: 0, TimeSpan.FromSeconds(120));
        var bodies = await broker.DrainAsync(b);

        var distinct = bodies.ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Enumerable.Range(1, Messages).Select(i => $"m{i}").ToHashSet(), distinct);
        TestContext.Current.TestOutputHelper?.WriteLine($"kill -9 with {atKill} in B; {bodies.Count} in B in all, {distinct.Count} distinct, {bodies.Count - distinct.Count} duplicates");
    }

    [Fact]
    public async Task Broker_RestartedMidStream_BridgeResumesOnItsOwnAndEveryMessageReachesQueueB()
    {
        const int count = 10_000;
        // Not disposed: that would delete the queues; the broker's restart ends its connection anyway.
        var broker = await RabbitMqBroker.RequireAsync();
        var (a, b) = (await broker.DeclareQueueAsync("bridge-ra"), await broker.DeclareQueueAsync("bridge-rb"));
        await broker.PublishManyAsync(a, count, i => $"r{i}");

        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Handlers:rabbitmq:RoutingKey", b)
            .Set("Gateway:Handlers:rabbitmq:MaxRetryDelay", "00:00:01")
            .Socket("q", RabbitMqBroker.WebStompUrl,
                ("Protocol", "Stomp"), ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", RabbitMqBroker.Passcode),
                ("Stomp:Subscriptions:0:Destination", $"/queue/{a}"), ("Handlers:0", "rabbitmq"), ("Queue:MaxInFlight", "64")));
        await Eventually.TrueAsync(() => gateway.Status("q").FramesHandled >= count / 6, $"bridging ({System.Text.Json.JsonSerializer.Serialize(gateway.Status("q"))}) {string.Join(" | ", gateway.Logs.GetSnapshot().Take(30).Select(r => r.Message))}", TimeSpan.FromSeconds(20));

        await RabbitMqBroker.RestartAsync();

        await using var after = await RabbitMqBroker.RequireAsync();
        await RabbitMqBroker.WaitForDepthAsync(a, ready: 0, unacked: 0, TimeSpan.FromSeconds(120));
        await Eventually.TrueAsync(async () => (await after.GetReadyAsync(b)).Ready >= count, "every message in B", TimeSpan.FromSeconds(60));
        var bodies = await after.DrainAsync(b);
        after.DeleteOnDispose(a);
        after.DeleteOnDispose(b);

        Assert.Equal(Enumerable.Range(1, count).Select(i => $"r{i}").ToHashSet(), bodies.ToHashSet(StringComparer.Ordinal));
        Assert.Equal(SocketState.Ready, gateway.Status("q").State);
        TestContext.Current.TestOutputHelper?.WriteLine($"broker restart: {bodies.Count} in B, {bodies.Distinct().Count()} distinct, {bodies.Count - bodies.Distinct().Count()} duplicates");
    }
}

/// <summary>The same bridge into a Redis stream, across a <c>redis-server</c> restart.</summary>
[Collection(nameof(SharedRedis))]
public sealed class RedisBridgeNoLossTests
{
    [Fact]
    public async Task Redis_RestartedMidStream_EveryMessageInTheStream()
    {
        const int count = 10_000;
        await using var broker = await RabbitMqBroker.RequireAsync();
        await using var redis = await RedisServer.RequireAsync();
        var a = await broker.DeclareQueueAsync("bridge-redis");
        var key = redis.NewKey("bridge");
        await broker.PublishManyAsync(a, count, i => $"s{i}");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Handlers:redis-stream:Configuration", RedisServer.Endpoint)
            .Set("Gateway:Handlers:redis-stream:Key", key)
            .Set("Gateway:Handlers:redis-stream:MaxRetryDelay", "00:00:01")
            .Socket("q", RabbitMqBroker.WebStompUrl,
                ("Protocol", "Stomp"), ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", RabbitMqBroker.Passcode),
                ("Stomp:Subscriptions:0:Destination", $"/queue/{a}"), ("Handlers:0", "redis-stream"), ("Handlers:1", SlowHandler.Name)),
            services => services.AddFrameHandler<SlowHandler>(SlowHandler.Name));
        await Eventually.TrueAsync(() => gateway.Status("q").FramesHandled >= count / 5, "bridging", TimeSpan.FromSeconds(60));

        await RedisServer.RestartAsync();

        await RabbitMqBroker.WaitForDepthAsync(a, ready: 0, unacked: 0, TimeSpan.FromSeconds(120));
        var entries = await redis.ReadStreamAsync(key);
        var payloads = entries.Select(e => Encoding.UTF8.GetString((byte[])e["payload"]!)).ToList();
        Assert.Equal(Enumerable.Range(1, count).Select(i => $"s{i}").ToHashSet(), payloads.ToHashSet(StringComparer.Ordinal));
        TestContext.Current.TestOutputHelper?.WriteLine($"redis restart: {payloads.Count} entries, {payloads.Distinct().Count()} distinct, {payloads.Count - payloads.Distinct().Count()} duplicates");
    }

    /// <summary>A little work per frame, so that the stream still flows when Redis restarts.</summary>
    private sealed class SlowHandler : IFrameHandler
    {
        public const string Name = "slow";

        public async ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
        {
            if (frame.Sequence % 10 == 0)
            {
                await Task.Delay(1, cancellationToken);
            }
        }
    }
}
