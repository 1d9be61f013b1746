using System.Net.WebSockets;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Tag = System.Collections.Generic.KeyValuePair<string, object?>;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>Stopping drains what it can within ShutdownTimeout and reports the rest.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Stop_HandlersFinishInTime_QueuedFramesHandledAndSocketClosedWith1001()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 50; i++)
            {
                await s.SendTextAsync($"m{i}");
            }
        });
        var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("Handlers:0", "slow"), ("Handlers:1", RecordingFrameHandler.Name)),
            services => services.AddFrameHandler<SlowFrameHandler>("slow"));
        await Eventually.TrueAsync(() => gateway.Status("a").FramesReceived == 50, "all frames read");
        var recorder = gateway.Recorder;

        await gateway.DisposeAsync();

        Assert.Equal(50, recorder.Frames.Count);
        Assert.Empty(gateway.Logs.WithEventId(302));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, server.LastSession!.ClientCloseStatus);
    }

    [Fact]
    public async Task Stop_HandlerTooSlowForShutdownTimeout_UnhandledFramesCountedAndLogged()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 10; i++)
            {
                await s.SendTextAsync($"m{i}");
            }
        });
        var gateway = GatewayTestHost.Create(
            new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", server.Url(), ("Handlers:0", "blocking")),
            services => services.AddFrameHandler<Dispatch.BlockingFrameHandler>("blocking"));
        using var framesDropped = gateway.CollectMetric<long>("gateway.frames.dropped");
        await gateway.StartAsync();
        await Eventually.TrueAsync(() => gateway.Status("a").FramesReceived == 10, "all frames read");

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await gateway.DisposeAsync();

        Assert.InRange(stopping.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(8));
        var report = Assert.Single(gateway.Logs.WithEventId(302));
        // The frame cut off in its handler and the 9 still queued: every frame read is accounted for.
        Assert.Contains("10 frames not handled", report.Message, StringComparison.Ordinal);
        Assert.Contains("within 00:00:01;", report.Message, StringComparison.Ordinal); // the whole ShutdownTimeout, not what was left of it
        var measured = framesDropped.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.reason", "shutdown"));
        Assert.Equal(10, measured.EvaluateAsCounter());
    }

    private sealed class SlowFrameHandler : IFrameHandler
    {
        public async ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken) => await Task.Delay(10, cancellationToken);
    }
}
