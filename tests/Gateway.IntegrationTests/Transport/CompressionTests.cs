using System.Net.WebSockets;
using System.Text;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Transport;

/// <summary>permessage-deflate (<c>Compression: true</c>) against Kestrel with compression enabled, on both transports.</summary>
public sealed class CompressionTests
{
    [Fact]
    public async Task Compression_KestrelAcceptsDeflate_FramesArriveIntactAndSendsWorkBothWays()
    {
        var large = string.Concat(Enumerable.Repeat("{\"price\":42.17,\"symbol\":\"ACME\"} ", 6_000));
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync("first");
            await s.SendTextAsync("first");
            await s.SendTextAsync(large);
            await s.SendFragmentedAsync(Encoding.UTF8.GetBytes("fragmented and compressed, twice over"), WebSocketMessageType.Text, 5);
            await s.SendAsync([1, 2, 3, 0, 0, 0], WebSocketMessageType.Binary);
        });
        server.Compression = true;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("Compression", "true")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5, "five frames arrived");
        Assert.Equal(["first", "first", large, "fragmented and compressed, twice over"], gateway.Recorder.Frames.Take(4).Select(f => f.Text));
        Assert.Equal([1, 2, 3, 0, 0, 0], gateway.Recorder.Frames.Last().Payload);
        Assert.Contains("permessage-deflate", server.HandshakeHeaders.Single()["Sec-WebSocket-Extensions"].ToString(), StringComparison.Ordinal);
        Assert.StartsWith("permessage-deflate", server.AcceptedExtensions.Single(), StringComparison.Ordinal);

        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", "hello upstream")).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", large)).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendBinaryAsync("a", new byte[] { 9, 8, 7 })).Status);
        await Eventually.TrueAsync(() => server.LastSession!.Received.Count == 3, "three messages reached the server");
        Assert.Equal(["hello upstream", large], server.LastSession!.Received.Take(2).Select(m => Encoding.UTF8.GetString(m.Data)));
        Assert.Equal([9, 8, 7], server.LastSession!.Received.Last().Data);
    }

    [Fact]
    public async Task Compression_MessageInflatingPastMaxMessageSize_ClosesWith1009()
    {
        // 8 MiB of zeros deflate to about 8 KiB: a small bomb against a 64 KiB limit.
        await using var server = await UpstreamServer.StartAsync(s => s.SendAsync(new byte[8 * 1024 * 1024], WebSocketMessageType.Binary));
        server.Compression = true;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("Compression", "true"), ("MaxMessageSize", "65536")));

        await Eventually.TrueAsync(() => server.Sessions.FirstOrDefault()?.ClientCloseStatus is not null, "the gateway closed");
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, server.Sessions.First().ClientCloseStatus);
        Assert.StartsWith("permessage-deflate", server.AcceptedExtensions.First(), StringComparison.Ordinal);
        Assert.Empty(gateway.Recorder.Frames);
    }

    [Fact]
    public async Task Compression_ServerWithoutDeflate_ConnectsUncompressed()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("plain"));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("Compression", "true")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the frame arrived");
        Assert.Equal("plain", gateway.Recorder.Frames.Single().Text);
        Assert.Equal(string.Empty, server.AcceptedExtensions.Single());
    }
}
