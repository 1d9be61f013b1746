using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>Messages from a real Kestrel WebSocket server reach handlers intact and in order.</summary>
public sealed class ReceiveTests
{
    [Fact]
    public async Task Receive_TextAndBinaryMessages_DeliveredInOrderWithExactBytes()
    {
        var binary = RandomNumberGenerator.GetBytes(300);
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync("hello");
            await s.SendAsync(binary, WebSocketMessageType.Binary);
            await s.SendTextAsync("héllo wörld ✓");
            await s.SendTextAsync(string.Empty);
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 4, "four frames arrived");
        var frames = gateway.Recorder.Frames.ToArray();
        Assert.Equal(["hello", "héllo wörld ✓", ""], frames.Where(f => f.Kind == FrameKind.Text).Select(f => f.Text));
        Assert.Equal(FrameKind.Binary, frames[1].Kind);
        Assert.Equal(binary, frames[1].Payload);
        Assert.Equal([1L, 2, 3, 4], frames.Select(f => f.Sequence));
        Assert.All(frames, f => Assert.Equal(1, f.Connection));
        Assert.All(frames, f => Assert.Equal("a", f.Socket));
    }

    [Fact]
    public async Task Receive_FragmentedMessage_ReassembledIntoOneFrame()
    {
        var payload = RandomNumberGenerator.GetBytes(10_000);
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendFragmentedAsync(payload, WebSocketMessageType.Binary, fragmentSize: 777);
            await s.SendFragmentedAsync(Encoding.UTF8.GetBytes("fragmented text"), WebSocketMessageType.Text, fragmentSize: 3);
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 2, "two frames arrived");
        var frames = gateway.Recorder.Frames.ToArray();
        Assert.Equal(payload, frames[0].Payload);
        Assert.Equal("fragmented text", frames[1].Text);
    }

    [Fact]
    public async Task Receive_LargeMessagesOfVaryingSize_DeliveredIntact()
    {
        // Sizes around the receive buffer's growth steps, up to just under MaxMessageSize.
        int[] sizes = [1, 255, 256, 257, 4096, 65_537, 300_000, 1024 * 1024, 3];
        var payloads = sizes.Select(RandomNumberGenerator.GetBytes).ToArray();
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            foreach (var payload in payloads)
            {
                await s.SendAsync(payload, WebSocketMessageType.Binary);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == sizes.Length, "every frame arrived");
        Assert.Equal(payloads, gateway.Recorder.Frames.Select(f => f.Payload));
        Assert.Equal(0, gateway.Status("a").FramesDropped);
    }

    [Fact]
    public async Task Receive_OversizedMessage_ClosesWith1009CountsDropAndReconnects()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            if (s.Number == 1)
            {
                await s.SendTextAsync("before");
                await s.SendAsync(new byte[2000], WebSocketMessageType.Binary);
            }
            else
            {
                await s.SendTextAsync("after");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("MaxMessageSize", "1000")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "after"), "the gateway reconnected and got the next frame");
        var first = server.Sessions.First();
        await first.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, first.ClientCloseStatus);
        Assert.Equal(["before", "after"], gateway.Recorder.Frames.Select(f => f.Text));
        var status = gateway.Status("a");
        Assert.Equal(1, status.FramesDropped);
        Assert.Equal(1009, status.LastCloseStatus);
        Assert.Single(gateway.Logs.WithEventId(106));
    }

    [Fact]
    public async Task Receive_MessageExactlyMaxMessageSize_IsAccepted()
    {
        var payload = RandomNumberGenerator.GetBytes(1000);
        await using var server = await UpstreamServer.StartAsync(s => s.SendAsync(payload, WebSocketMessageType.Binary));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("MaxMessageSize", "1000")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the frame arrived");
        Assert.Equal(payload, gateway.Recorder.Frames.Single().Payload);
        Assert.Equal(1, server.ConnectionCount);
    }
}
