using System.Text.Json;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Options;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Handlers;

/// <summary>Named sink instances (<c>Gateway:Handlers:&lt;name&gt;:Type</c>) against the real RabbitMQ and Redis.</summary>
[Collection(nameof(Protocols.Stomp.SharedBroker))]
public sealed class SinkInstancesTests
{
    [Fact]
    public async Task NamedInstances_TwoRabbitMqAndOneRedisStream_EachSocketReachesItsOwnAndHealthNamesThem()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        await using var redis = await RedisServer.RequireAsync();
        var (a, b) = (await broker.DeclareQueueAsync("named-a"), await broker.DeclareQueueAsync("named-b"));
        var key = redis.NewKey("named");
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            var socket = s.Context.Request.Path.Value!.Trim('/');
            for (var i = 1; i <= 3; i++)
            {
                await s.SendTextAsync($"{socket}-{i}");
            }
        });
        var amqp = $"amqp://{RabbitMqBroker.Login}:{RabbitMqBroker.Passcode}@127.0.0.1:{RabbitMqBroker.AmqpUrl.Port}/";
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Handlers:orders:Type", "rabbitmq").Set("Gateway:Handlers:orders:Uri", amqp).Set("Gateway:Handlers:orders:RoutingKey", a)
            .Set("Gateway:Handlers:audit:Type", "rabbitmq").Set("Gateway:Handlers:audit:Uri", amqp).Set("Gateway:Handlers:audit:RoutingKey", b)
            .Set("Gateway:Handlers:archive:Type", "redis-stream").Set("Gateway:Handlers:archive:Configuration", RedisServer.Endpoint).Set("Gateway:Handlers:archive:Key", key)
            .Socket("one", server.Url("/one"), ("Handlers:0", "orders"), ("Handlers:1", "archive"))
            .Socket("two", server.Url("/two"), ("Handlers:0", "audit")));

        await Eventually.TrueAsync(() => gateway.Status("one").FramesHandled == 3 && gateway.Status("two").FramesHandled == 3, "every frame confirmed by its sinks");

        Assert.Equal(["one-1", "one-2", "one-3"], await broker.DrainAsync(a, TestContext.Current.CancellationToken));
        Assert.Equal(["two-1", "two-2", "two-3"], await broker.DrainAsync(b, TestContext.Current.CancellationToken));
        Assert.Equal(["one-1", "one-2", "one-3"], (await redis.ReadStreamAsync(key)).Select(e => (string?)e["payload"]));
        using var health = await gateway.Http.GetAsync("/health/ready", TestContext.Current.CancellationToken);
        var sinks = JsonDocument.Parse(await health.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("sinks");
        var byName = sinks.EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(3, byName["orders"].GetProperty("confirmed").GetInt64());
        Assert.Equal(3, byName["audit"].GetProperty("confirmed").GetInt64());
        Assert.Equal(3, byName["archive"].GetProperty("confirmed").GetInt64());
        Assert.All(byName.Values, s => Assert.Equal("Up", s.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task StartAsync_UnknownTypeOrABuiltInName_FailsNamingTheKey()
    {
        var config = new TestConfig()
            .Set("Gateway:Handlers:events:Type", "kafka")
            .Set("Gateway:Handlers:file:Type", "redis-stream")
            .Set("Gateway:Handlers:rabbitmq:Type", "rabbitmq") // the built-in sink's own section: fine
            .Socket("a", new Uri("ws://127.0.0.1:9/"), ("Handlers:0", "events"));

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Contains("Gateway:Handlers:events:Type: 'kafka' is not a sink type: rabbitmq or redis-stream", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Handlers:file:Type: 'file' is the name of a built-in handler; give this redis-stream sink a name of its own", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Gateway:Handlers:rabbitmq", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rabbitmq", "Uri", "http://user:secret@host/", "Gateway:Handlers:mine:Uri: 'http://host/' is not an amqp:// or amqps:// URI")]
    [InlineData("redis-stream", "Key", "gateway:{sockets}", "Gateway:Handlers:mine:Key 'gateway:{sockets}' has an unknown placeholder {sockets}")]
    public async Task StartAsync_InvalidNamedInstanceSection_FailsNamingTheKey(string type, string key, string value, string error)
    {
        var config = new TestConfig()
            .Set("Gateway:Handlers:mine:Type", type).Set($"Gateway:Handlers:mine:{key}", value)
            .Socket("a", new Uri("ws://127.0.0.1:9/"), ("Handlers:0", "mine"));

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Contains(ex.Failures, f => f.StartsWith(error, StringComparison.Ordinal));
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }
}
