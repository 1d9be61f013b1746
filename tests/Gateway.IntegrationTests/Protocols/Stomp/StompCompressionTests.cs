using System.Text;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>
/// <c>Compression: true</c> against the real RabbitMQ web-stomp (cowboy), through a relay that keeps what the broker
/// sent: cowboy accepts permessage-deflate, compresses its frames, and the messages arrive intact both ways.
/// </summary>
[Collection(nameof(SharedBroker))]
public sealed class StompCompressionTests
{
    [Fact]
    public async Task Compression_RabbitMqWebStomp_NegotiatesPermessageDeflateAndDeliversBothWays()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("deflate");
        var replies = await broker.DeclareQueueAsync("deflate-send");
        await using var relay = new RecordingRelay(RabbitMqBroker.WebStompUrl);
        var url = new UriBuilder(RabbitMqBroker.WebStompUrl) { Port = relay.Port }.Uri;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("q", url,
            ("Protocol", "Stomp"), ("Compression", "true"),
            ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", RabbitMqBroker.Passcode),
            ("Stomp:Subscriptions:0:Destination", $"/queue/{queue}"), ("Stomp:DefaultDestination", $"/queue/{replies}")));
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");

        var large = string.Concat(Enumerable.Repeat("{\"price\":42.17,\"symbol\":\"ACME\"} ", 3_000));
        string[] published = ["first", large, "é€😀", large];
        foreach (var body in published)
        {
            await broker.PublishAsync(queue, body);
        }

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == published.Length, "all delivered");
        Assert.Equal(published, gateway.Recorder.Frames.Select(f => f.Text));
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0);

        // Sent compressed (the broker accepted a 15-bit client window): confirmed by RECEIPT and intact in the queue.
        Assert.Equal(SendStatus.Confirmed, (await gateway.Sender.SendAndWaitAsync("q", OutboundMessage.Text(large))).Status);
        Assert.Equal([large], await broker.DrainAsync(replies));

        // What cowboy answered the gateway's offer ("permessage-deflate; client_max_window_bits"), and that its frames
        // came compressed: RSV1 on the first frame of a message (RFC 7692 6).
        var wire = Assert.Single(relay.FromUpstream);
        var headEnd = wire.AsSpan().IndexOf("\r\n\r\n"u8);
        var head = Encoding.ASCII.GetString(wire, 0, headEnd);
        Assert.StartsWith("HTTP/1.1 101", head, StringComparison.Ordinal);
        Assert.Contains("sec-websocket-extensions: permessage-deflate; client_max_window_bits=15", head, StringComparison.OrdinalIgnoreCase);
        var firstFrame = wire[headEnd + 4];
        Assert.True((firstFrame & 0x40) != 0, $"the broker's first frame (CONNECTED) is not compressed: 0x{firstFrame:X2}");
    }
}
