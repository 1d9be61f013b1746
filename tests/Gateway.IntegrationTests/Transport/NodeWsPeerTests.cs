using System.Text;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Transport;

/// <summary>
/// The gateway against node's <c>ws</c> 8.23.0 (<see cref="NodeWsPeer"/>): a server that behaves (echo, a burst,
/// permessage-deflate in three configurations, fragments with pings between) and one that misbehaves on purpose
/// (invalid UTF-8, a bad close code, an oversize message, masked frames, no pongs, TCP closed without a close frame,
/// frames after its close). On every path the first connection misbehaves and the next ones send "hello n" and echo.
/// </summary>
public sealed class NodeWsPeerTests(NodeWsPeer node) : IClassFixture<NodeWsPeer>
{
    /// <summary>
    /// The mode, the close code the peer must see from the gateway (ws reports 1006 for a connection that ended without
    /// one), the disconnect reason label, and how health's words begin (the gateway's own transport).
    /// </summary>
    public static TheoryData<string, int, string, string> Misbehaviours => new()
    {
        { "invalid-utf8", 1007, "protocol_error", "invalid UTF-8 in a text message; gateway closed with 1007" },
        { "invalid-utf8-split", 1007, "protocol_error", "invalid UTF-8 in a text message; gateway closed with 1007" },
        { "bad-close-code", 1002, "protocol_error", "server sent close code 1005 (invalid); gateway closed with 1002" },
        { "masked", 1002, "protocol_error", "server sent a masked frame; gateway closed with 1002" },
        { "oversize", 1009, "too_large", "message larger than 65536 bytes (MaxMessageSize)" },
        { "tcp-close", 1006, "connection_lost", "connection closed by the server without a close frame" },
        { "close-then-send", 4001, "server_closed", "server closed with 4001 'going'" },
    };

    [Fact]
    public async Task Echo_NodeWsServer_DeliversAndEchoesBothWays()
    {
        var url = node.Url("echo");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url));
        // The greeting can reach the handler before the connection is Ready (a send then answers Queued): wait for both.
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1 && gateway.Status("a").State == SocketState.Ready, "hello arrived, Ready");

        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", "héllo €𝄞")).Status);
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendBinaryAsync("a", new byte[] { 0, 1, 2, 255 })).Status);

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 3, "both echoes arrived");
        Assert.Equal(["hello 1", "héllo €𝄞"], gateway.Recorder.Frames.Take(2).Select(f => f.Text));
        Assert.Equal([0, 1, 2, 255], gateway.Recorder.Frames.Last().Payload);
        Assert.Equal(["héllo €𝄞", "binary 4"], (await node.StatsAsync(url)).Received);
    }

    [Fact]
    public async Task Broadcast_BurstOfTextAndBinary_AllDeliveredInOrder()
    {
        var url = node.Url("broadcast", "?count=500");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 501, "the burst arrived");
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal("hello 1", frames[0].Text);
        for (var i = 1; i <= 500; i++)
        {
            if (i % 10 == 0)
            {
                Assert.Equal([(byte)i, 0, 1, 2], frames[i].Payload);
            }
            else
            {
                Assert.Equal($"tick {i}", frames[i].Text);
            }
        }

        Assert.Equal(SocketState.Ready, gateway.Status("a").State);
    }

    [Theory]
    [InlineData("deflate", "permessage-deflate")]
    [InlineData("deflate-no-context", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")]
    [InlineData("deflate-window", "permessage-deflate; server_max_window_bits=9")]
    public async Task Compression_NodeWsPermessageDeflate_NegotiatedAndMessagesIntactBothWays(string mode, string answer)
    {
        var url = node.Url(mode);
        var large = string.Concat(Enumerable.Repeat("{\"price\":42.17,\"symbol\":\"ACME\"} ", 4_000));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url, ("Compression", "true")));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1 && gateway.Status("a").State == SocketState.Ready, "hello arrived, Ready");
        Assert.Equal($"hello 1 ({answer})", gateway.Recorder.Frames.Single().Text);

        // Each echo comes back compressed by ws (threshold 0): with context takeover the second is a back-reference.
        string[] sent = [large, "small", large, "é€😀 x3 é€😀 é€😀"];
        foreach (var text in sent)
        {
            Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("a", text)).Status);
        }

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1 + sent.Length, "the echoes arrived");
        Assert.Equal(sent, gateway.Recorder.Frames.Skip(1).Select(f => f.Text));
        var stats = await node.StatsAsync(url);
        Assert.Equal([$"text {Encoding.UTF8.GetByteCount(large)}", "small", $"text {Encoding.UTF8.GetByteCount(large)}", sent[3]], stats.Received);
        Assert.Equal([answer], stats.Extensions);
        Assert.Equal(1, stats.Connections);
    }

    [Fact]
    public async Task Fragmented_PingsBetweenFragments_AssembledAndEachPingAnswered()
    {
        var url = node.Url("fragmented");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url, ("KeepAliveInterval", "00:00:00")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 3, "three messages arrived");
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal(["hello 1", "part one|part two|part three"], frames.Take(2).Select(f => f.Text));
        var binary = frames[2].Payload.ToArray();
        Assert.Equal(200 * 1024, binary.Length);
        Assert.All(Enumerable.Range(0, 200), i => Assert.True(binary.AsSpan(i * 1024, 1024).IndexOfAnyExcept((byte)i) < 0, $"fragment {i}"));
        await Eventually.TrueAsync(async () => (await node.StatsAsync(url)).Pongs.Count == 2, "both pings answered");
        Assert.Equal(["between 1", "between 2"], (await node.StatsAsync(url)).Pongs);
    }

    [Theory]
    [MemberData(nameof(Misbehaviours))]
    public async Task Misbehaving_NodeWsServer_ClosedWithTheRightCodeHealthSaysWhyAndReconnected(string mode, int peerSees, string label, string words)
    {
        var url = node.Url(mode, mode == "oversize" ? "?size=200000" : string.Empty);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url, ("MaxMessageSize", "65536")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "hello 2"), "reconnected after the misbehaviour");
        Assert.Equal(["hello 1", "hello 2"], gateway.Recorder.Frames.Select(f => f.Text));
        await Eventually.TrueAsync(async () => (await node.StatsAsync(url)).Closes.Count >= 1, "the peer saw the first connection end");
        var stats = await node.StatsAsync(url);
        Assert.Equal(peerSees, stats.Closes[0].Code);
        Assert.Equal(2, stats.Connections);

        var status = gateway.Status("a");
        Assert.Equal(SocketState.Ready, status.State);
        if (TestTransport.IsClientWebSocket)
        {
            // The fallback transport reports most violations only as "Aborted": the words come from the gateway's own.
            Assert.NotNull(status.LastDisconnect);
            return;
        }

        Assert.StartsWith(words, status.LastDisconnect, StringComparison.Ordinal);
        Assert.Equal(label, status.LastDisconnectReason);
        Assert.Equal(peerSees == 1006 ? null : peerSees, status.LastCloseStatus);
        Assert.Equal(label == "server_closed" ? "server" : label == "connection_lost" ? "neither" : "gateway", status.LastClosedBy);
    }

    [Fact]
    public async Task NoPong_NodeWsServerStopsAnsweringPings_KeepAliveTimeoutAndReconnected()
    {
        var url = node.Url("no-pong");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", url,
            ("KeepAliveInterval", "00:00:00.200"), ("KeepAliveTimeout", "00:00:00.500")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "hello 2"), "reconnected after the pongs stopped");
        Assert.Equal(["hello 1", "hello 2"], gateway.Recorder.Frames.Select(f => f.Text));
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.Null(reason.CloseStatus);
        Assert.Contains("KeepAliveTimeout", reason.Error?.ToString(), StringComparison.Ordinal);

        // The second connection answers pings: it stays up across several keep-alive rounds.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(SocketState.Ready, gateway.Status("a").State);
        Assert.Equal(2, (await node.StatsAsync(url)).Connections);
    }
}
