using System.Net;
using System.Text.Json;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Health;

/// <summary>/health/live and /health/ready over HTTP, following real upstream state.</summary>
public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Ready_ServerDropsConnectionsRepeatedly_ReconnectsCountedApartFromTheBackoffAttempt()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            if (s.Number <= 3)
            {
                await s.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, "restart");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));
        await Eventually.TrueAsync(() => server.ConnectionCount == 4 && gateway.Status("a").State == Gateway.Host.Health.SocketState.Ready, "the fourth connection is ready");

        using var body = await GetJsonAsync(gateway, "/health/ready");
        var socket = body.RootElement.GetProperty("sockets").EnumerateArray().Single();
        Assert.Equal(3, socket.GetProperty("reconnects").GetInt64());
        Assert.Equal(0, socket.GetProperty("reconnectAttempt").GetInt32()); // Ready: no backoff under way
        var lastConnected = socket.GetProperty("lastConnectedAt").GetDateTimeOffset();
        Assert.InRange(lastConnected, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.True(lastConnected >= socket.GetProperty("since").GetDateTimeOffset().AddMilliseconds(-50));
    }

    [Fact]
    public async Task Ready_HandlerFailsEveryFrameForTenSeconds_DegradedNamingSocketAndHandlerUntilAFrameSucceeds()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var sendGood = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 3; i++)
            {
                await s.SendTextAsync($"boom {i}");
            }

            await sendGood.Task;
            await s.SendTextAsync("fine");
        });
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("Handlers:0", RecordingFrameHandler.Name), ("Handlers:1", ThrowingFrameHandler.Name)),
            services => services.AddSingleton<TimeProvider>(clock));
        await Eventually.TrueAsync(() => gateway.Status("a").HandlerErrors == 3, "three frames failed");

        clock.Advance(TimeSpan.FromSeconds(9));
        using (var body = await GetJsonAsync(gateway, "/health/ready"))
        {
            Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString()); // not yet "for a while"
        }

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.OK, Status(gateway, "/health/ready")); // Degraded is still ready
        using (var body = await GetJsonAsync(gateway, "/health/ready"))
        {
            Assert.Equal("Degraded", body.RootElement.GetProperty("status").GetString());
            Assert.Contains("a (handler 'throw' failing every frame since", body.RootElement.GetProperty("description").GetString(), StringComparison.Ordinal);
        }

        sendGood.SetResult();
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 4, "the good frame was handled");
        using (var body = await GetJsonAsync(gateway, "/health/ready"))
        {
            Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task Ready_FollowsRequiredUpstream_503NamingSocketWhileDown()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var optional = await UpstreamServer.StartIdleAsync();
        optional.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Socket("prices", server.Url())
            .Socket("extras", optional.Url(), ("Required", "false")));

        await Eventually.TrueAsync(() => Status(gateway, "/health/ready") == HttpStatusCode.OK, "ready with the required socket up");
        using (var body = await GetJsonAsync(gateway, "/health/ready"))
        {
            var sockets = body.RootElement.GetProperty("sockets").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
            Assert.Equal("Ready", sockets["prices"].GetProperty("state").GetString());
            Assert.Equal(503, sockets["extras"].GetProperty("lastHttpStatus").GetInt32());
            Assert.False(sockets["extras"].GetProperty("required").GetBoolean());
        }

        await server.StopAsync();
        await Eventually.TrueAsync(() => Status(gateway, "/health/ready") == HttpStatusCode.ServiceUnavailable, "not ready while the upstream is down");
        using (var body = await GetJsonAsync(gateway, "/health/ready"))
        {
            Assert.Contains("prices", body.RootElement.GetProperty("description").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, Status(gateway, "/health/live"));

        await server.RestartAsync();
        await Eventually.TrueAsync(() => Status(gateway, "/health/ready") == HttpStatusCode.OK, "ready again after the upstream returned");
    }

    private static HttpStatusCode Status(GatewayTestHost gateway, string path)
    {
        using var response = gateway.Http.GetAsync(path).GetAwaiter().GetResult();
        return response.StatusCode;
    }

    private static async Task<JsonDocument> GetJsonAsync(GatewayTestHost gateway, string path)
    {
        using var response = await gateway.Http.GetAsync(path);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }
}
