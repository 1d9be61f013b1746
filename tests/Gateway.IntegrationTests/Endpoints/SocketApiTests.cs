using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Endpoints;

/// <summary>The HTTP send API over real HTTP and real upstream sockets.</summary>
public sealed class SocketApiTests
{
    private const string Key = "test-key-123";

    private static HttpRequestMessage Post(string path, string body, string contentType = "text/plain", string? key = Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return request;
    }

    private static async Task<(HttpStatusCode Code, JsonElement Body)> SendAsync(GatewayTestHost gateway, HttpRequestMessage request)
    {
        using var response = await gateway.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task PostMessage_WaitWhileSocketDown_AnswersSentOnlyOnceWrittenAfterTheReconnect()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:Api:Key", Key).Socket("a", server.Url()));
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");

        var waiting = SendAsync(gateway, Post("/sockets/a/messages?wait=true", "confirm me"));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted); // without ?wait=true it would have answered Queued at once
        server.RejectHandshake = null;
        var (code, body) = await waiting.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(HttpStatusCode.Accepted, code);
        Assert.Equal("Sent", body.GetProperty("status").GetString());
        Assert.False(body.TryGetProperty("reply", out _)); // raw has no replies

        // "Sent" means written to the connection; the server reads it a moment later.
        await Eventually.TrueAsync(() => server.LastSession is { Received.Count: > 0 }, "the server read the message");
        Assert.Equal("confirm me", Encoding.UTF8.GetString(Assert.Single(server.LastSession!.Received).Data));
    }

    [Fact]
    public async Task PostGroupMessage_OneMemberDown_SentAndQueuedThenSecondReceivesExactlyOnce()
    {
        await using var first = await UpstreamServer.StartIdleAsync();
        await using var second = await UpstreamServer.StartIdleAsync();
        second.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Api:Key", Key)
            .Socket("first", first.Url(), ("Groups:0", "g"))
            .Socket("second", second.Url(), ("Groups:0", "g")));
        await Eventually.TrueAsync(() => gateway.Status("first").State == Gateway.Host.Health.SocketState.Ready, "first is ready");

        var (code, body) = await SendAsync(gateway, Post("/groups/g/messages", "{\"hello\":\"group\"}", "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, code);
        var results = body.GetProperty("results").EnumerateArray().ToDictionary(r => r.GetProperty("socket").GetString()!, r => r.GetProperty("status").GetString());
        Assert.Equal("Sent", results["first"]);
        Assert.Equal("Queued", results["second"]);
        second.RejectHandshake = null;
        await Eventually.TrueAsync(() => second.LastSession?.Received.Count == 1, "the second server got it");
        await Task.Delay(300);
        Assert.Single(second.LastSession!.Received);
        Assert.Equal("{\"hello\":\"group\"}", Encoding.UTF8.GetString(second.LastSession.Received.Single().Data));
        Assert.Single(first.LastSession!.Received);
    }

    [Fact]
    public async Task PostSocketMessage_EachOutcome_StatusCodeClientCanActOn()
    {
        await using var up = await UpstreamServer.StartIdleAsync();
        await using var down = await UpstreamServer.StartIdleAsync();
        down.RejectHandshake = _ => 503;
        await using var full = await UpstreamServer.StartIdleAsync();
        full.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Api:Key", Key)
            .Socket("up", up.Url(), ("MaxMessageSize", "10"))
            .Socket("strict", down.Url(), ("Outbound:WhileDisconnected", "Reject"))
            .Socket("full", full.Url(), ("Outbound:Capacity", "1")));
        await Eventually.TrueAsync(() => gateway.Status("up").State == Gateway.Host.Health.SocketState.Ready, "up is ready");

        var sent = await SendAsync(gateway, Post("/sockets/up/messages", "hi"));
        Assert.Equal(HttpStatusCode.Accepted, sent.Code);
        Assert.Equal("Sent", sent.Body.GetProperty("status").GetString());

        var binary = new HttpRequestMessage(HttpMethod.Post, "/sockets/up/messages") { Content = new ByteArrayContent([0, 1, 2]) };
        binary.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        binary.Headers.Add("X-Api-Key", Key);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(gateway, binary)).Code);

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, Post("/sockets/nope/messages", "x"))).Code);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(gateway, Post("/sockets/strict/messages", "x"))).Code);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await SendAsync(gateway, Post("/sockets/up/messages", "eleven char"))).Code);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(gateway, Post("/sockets/full/messages", "1"))).Code);
        var queueFull = await SendAsync(gateway, Post("/sockets/full/messages", "2"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, queueFull.Code);
        Assert.Equal("QueueFull", queueFull.Body.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await SendAsync(gateway, Post("/sockets/up/messages", "x", "image/png"))).Code);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, Post("/groups/none/messages", "x"))).Code);

        await Eventually.TrueAsync(() => up.LastSession!.Received.Count == 2, "both accepted messages arrived");
        var received = up.LastSession!.Received.ToArray();
        Assert.Equal(WebSocketMessageType.Text, received[0].Type);
        Assert.Equal("hi", Encoding.UTF8.GetString(received[0].Data));
        Assert.Equal(WebSocketMessageType.Binary, received[1].Type);
        Assert.Equal([0, 1, 2], received[1].Data);
    }

    [Fact]
    public async Task MutatingEndpoints_KeyMissingOrWrong_401_NoKeyConfigured_403_UnlessAnonymousAllowed()
    {
        await using var up = await UpstreamServer.StartIdleAsync();
        var config = new TestConfig().Set("Gateway:Api:Key", Key).Socket("up", up.Url());
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => gateway.Status("up").State == Gateway.Host.Health.SocketState.Ready, "ready");

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gateway, Post("/sockets/up/messages", "x", key: null))).Code);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gateway, Post("/sockets/up/messages", "x", key: Key + "4"))).Code);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gateway, Post("/sockets/up/reconnect", string.Empty, key: "nope"))).Code);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(gateway, Post("/sockets/up/messages", "x"))).Code);

        // Reads, health and metrics stay open.
        using (var list = await gateway.Http.GetAsync("/sockets"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        await gateway.ReloadAsync(config.Set("Gateway:Api:Key", null));
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(gateway, Post("/sockets/up/messages", "x", key: null))).Code);
        await gateway.ReloadAsync(config.Set("Gateway:Api:AllowAnonymous", "true"));
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(gateway, Post("/sockets/up/messages", "x", key: null))).Code);
        Assert.Equal(1, up.ConnectionCount);
    }

    [Fact]
    public async Task GetSocketsAndReconnect_ListStateAndForceANewConnection()
    {
        await using var up = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:Api:Key", Key).Socket("up", up.Url(), ("Groups:0", "g1")));
        await Eventually.TrueAsync(() => gateway.Status("up").State == Gateway.Host.Health.SocketState.Ready, "ready");

        using (var response = await gateway.Http.GetAsync("/sockets/up"))
        {
            var socket = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("Ready", socket.GetProperty("state").GetString());
            Assert.Equal("g1", socket.GetProperty("groups")[0].GetString());
            Assert.Equal("Raw", socket.GetProperty("protocol").GetString());
        }

        using (var missing = await gateway.Http.GetAsync("/sockets/nope"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var (code, _) = await SendAsync(gateway, Post("/sockets/up/reconnect", string.Empty));
        Assert.Equal(HttpStatusCode.Accepted, code);
        await Eventually.TrueAsync(() => up.ConnectionCount == 2, "a new connection was made");
        Assert.Equal(WebSocketCloseStatus.NormalClosure, up.Sessions.First().ClientCloseStatus);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, Post("/sockets/nope/reconnect", string.Empty))).Code);
    }
}
