using System.Net.WebSockets;
using System.Text;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>What the gateway sends: handshake headers, subprotocols, OnConnect messages, and sends on request.</summary>
public sealed class HandshakeAndSendTests
{
    [Fact]
    public async Task Connect_HeadersSubProtocolAndUrlCredentials_SentInHandshakeAndKeptOutOfLogs()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        var url = new Uri($"ws://alice:s3cret-pw@127.0.0.1:{server.Port}/ws?token=tok-123");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url,
            ("Headers:X-Tenant", "acme"), ("SubProtocols:0", "v2.feed"), ("SubProtocols:1", "v1.feed")));

        await Eventually.TrueAsync(() => server.ConnectionCount == 1, "connected");
        var headers = server.HandshakeHeaders.Single();
        Assert.Equal("acme", headers["X-Tenant"].ToString());
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:s3cret-pw")), headers.Authorization.ToString());
        Assert.Equal("tok-123", server.LastSession!.Context.Request.Query["token"].ToString());
        Assert.Equal("v2.feed", server.LastSession.Socket.SubProtocol);
        await Eventually.TrueAsync(() => gateway.Logs.WithEventId(101).Any(), "the connect was logged");
        Assert.Contains("v2.feed", gateway.Logs.WithEventId(101).Single().Message, StringComparison.Ordinal);

        // Credentials and query values never reach logs or health output.
        var json = await gateway.Http.GetStringAsync("/health/ready");
        Assert.Contains($"\"transport\":\"{TestTransport.Name}\"", json, StringComparison.Ordinal);
        foreach (var text in gateway.Logs.GetSnapshot().Select(e => e.Message).Append(json))
        {
            Assert.DoesNotContain("s3cret-pw", text, StringComparison.Ordinal);
            Assert.DoesNotContain("tok-123", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Connect_OnConnectMessages_SentAfterEveryConnectInOrder()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            if (s.Number == 1)
            {
                await Eventually.TrueAsync(() => s.Received.Count == 2, "the subscribe messages arrived");
                await s.CloseAsync(WebSocketCloseStatus.NormalClosure);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("OnConnect:0:Text", "{\"subscribe\":\"prices\"}"), ("OnConnect:1:Binary", Convert.ToBase64String([1, 2, 3]))));

        await Eventually.TrueAsync(() => server.Sessions.Count == 2 && server.Sessions.Last().Received.Count == 2, "resubscribed after reconnect");
        foreach (var session in server.Sessions)
        {
            var received = session.Received.ToArray();
            Assert.Equal(WebSocketMessageType.Text, received[0].Type);
            Assert.Equal("{\"subscribe\":\"prices\"}", Encoding.UTF8.GetString(received[0].Data));
            Assert.Equal(WebSocketMessageType.Binary, received[1].Type);
            Assert.Equal([1, 2, 3], received[1].Data);
        }
    }

    [Fact]
    public async Task Send_ByName_WrittenToSocketOrRejectedWithReason()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Socket("a", server.Url(), ("MaxMessageSize", "100")));
        await Eventually.TrueAsync(() => server.ConnectionCount == 1 && gateway.Status("a").State == Gateway.Host.Health.SocketState.Ready, "connected");

        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", "hello upstream")).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendBinaryAsync("a", new byte[] { 9, 8, 7 })).Status);
        Assert.Equal(SendStatus.UnknownSocket, (await gateway.Sender.SendTextAsync("nope", "x")).Status);
        Assert.Equal(SendStatus.TooLarge, (await gateway.Sender.SendBinaryAsync("a", new byte[101])).Status);

        await Eventually.TrueAsync(() => server.LastSession!.Received.Count == 2, "both sends arrived");
        var received = server.LastSession!.Received.ToArray();
        Assert.Equal("hello upstream", Encoding.UTF8.GetString(received[0].Data));
        Assert.Equal([9, 8, 7], received[1].Data);
        Assert.Equal(2, gateway.Status("a").FramesSent);
    }

    [Fact]
    public async Task Reply_FromHandler_GoesBackOnTheFramesSocket()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("ping"));
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("Handlers:0", "echo")),
            services => services.AddFrameHandler<EchoFrameHandler>("echo"));

        await Eventually.TrueAsync(() => server.LastSession?.Received.Count == 1, "the reply arrived");
        Assert.Equal("pong to ping #1", Encoding.UTF8.GetString(server.LastSession!.Received.Single().Data));
    }

    private sealed class EchoFrameHandler(ISocketSender sender) : IFrameHandler
    {
        public async ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
            => await sender.ReplyAsync(frame, $"pong to {frame.GetText()} #{frame.Sequence}", cancellationToken);
    }
}
