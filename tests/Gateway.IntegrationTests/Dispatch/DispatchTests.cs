using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Tag = System.Collections.Generic.KeyValuePair<string, object?>;

namespace Gateway.IntegrationTests.Dispatch;

/// <summary>Handlers run in order per socket, isolated from each other's failures, with bounded queues.</summary>
public sealed class DispatchTests
{
    [Fact]
    public async Task HandlerThrows_NextHandlerAndNextFramesStillRun_ErrorCountedAndLogged()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync("one");
            await s.SendTextAsync("boom two");
            await s.SendTextAsync("three");
            await s.SendTextAsync("boom four");
            await s.SendTextAsync("five");
        });
        await using var gateway = GatewayTestHost.Create(new TestConfig().Socket("a", server.Url(),
            ("Handlers:0", ThrowingFrameHandler.Name), ("Handlers:1", RecordingFrameHandler.Name)));
        using var handlerErrors = gateway.CollectMetric<long>("gateway.handler.errors");
        await gateway.StartAsync();

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5, "the second handler saw every frame");
        Assert.Equal(["one", "boom two", "three", "boom four", "five"], gateway.Recorder.Frames.Select(f => f.Text));
        Assert.Equal(2, gateway.Status("a").HandlerErrors);
        var measured = handlerErrors.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.handler", "throw"));
        Assert.Equal(2, measured.EvaluateAsCounter());

        // The first failure is logged with handler, socket and frame; the second within 10 s is only counted.
        var logged = Assert.Single(gateway.Logs.WithEventId(300));
        Assert.Contains("throw", logged.Message, StringComparison.Ordinal);
        Assert.Contains("socket a frame 2", logged.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public async Task SlowSocket_DoesNotStallAnotherSocket()
    {
        await using var slowServer = await UpstreamServer.StartAsync(s => s.SendTextAsync("slow"));
        await using var fastServer = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 10; i++)
            {
                await s.SendTextAsync($"fast {i}");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("slow", slowServer.Url(), ("Handlers:0", "blocking")).Socket("fast", fastServer.Url()),
            services => services.AddFrameHandler<BlockingFrameHandler>("blocking"));
        var blocking = gateway.Services.GetRequiredService<BlockingFrameHandler>();

        await Eventually.TrueAsync(() => blocking.Entered.Task.IsCompleted, "the slow socket's handler is blocked");
        await Eventually.TrueAsync(() => gateway.Recorder.For("fast").Count() == 10, "the fast socket delivered everything meanwhile");
        blocking.Release.TrySetResult();
    }

    [Fact]
    public async Task QueueFullModeWait_HandlerPaused_NothingDroppedEverythingDeliveredInOrder()
    {
        const int count = 200;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < count; i++)
            {
                await s.SendTextAsync($"m{i}");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Queue:Capacity", "4"), ("Queue:FullMode", "Wait")), _ => { });
        gateway.Recorder.Pause();
        await Task.Delay(300);
        gateway.Recorder.Resume();

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == count, "every frame was handled");
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}"), gateway.Recorder.Frames.Select(f => f.Text));
        Assert.Equal(0, gateway.Status("a").FramesDropped);
    }

    [Fact]
    public async Task QueueFullModeDropOldest_HandlerBlocked_OldestDroppedNewestKeptAndCounted()
    {
        var (frames, dropped, metrics) = await RunBlockedQueueAsync("DropOldest");

        // m1 was in the handler; of the 20 frames after it (m2..m20, done) only the newest 3 stayed.
        Assert.Equal(["m1", "m19", "m20", "done"], frames);
        Assert.Equal(17, dropped);
        Assert.Equal(17, metrics);
    }

    [Fact]
    public async Task QueueFullModeDropNewest_HandlerBlocked_ArrivingDroppedOldestKeptAndCounted()
    {
        var (frames, dropped, metrics) = await RunBlockedQueueAsync("DropNewest");

        // m1 was in the handler; the 3 frames after it filled the queue and the 17 arriving later were dropped.
        Assert.Equal(["m1", "m2", "m3", "m4"], frames);
        Assert.Equal(17, dropped);
        Assert.Equal(17, metrics);
    }

    private static async Task<(string[] Frames, long Dropped, long DropMetric)> RunBlockedQueueAsync(string mode)
    {
        var allSent = new TaskCompletionSource();
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync("m1");
            await allSent.Task;
            for (var i = 2; i <= 20; i++)
            {
                await s.SendTextAsync($"m{i}");
            }

            await s.SendTextAsync("done");
        });
        await using var gateway = GatewayTestHost.Create(new TestConfig().Socket("a", server.Url(),
            ("Queue:Capacity", "3"), ("Queue:FullMode", mode), ("Handlers:0", "blocking"), ("Handlers:1", RecordingFrameHandler.Name)),
            services => services.AddFrameHandler<BlockingFrameHandler>("blocking"));
        using var framesDropped = gateway.CollectMetric<long>("gateway.frames.dropped");
        await gateway.StartAsync();
        var blocking = gateway.Services.GetRequiredService<BlockingFrameHandler>();
        await blocking.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        allSent.SetResult();
        await Eventually.TrueAsync(() => gateway.Status("a").FramesReceived == 21, "every frame was read");
        blocking.Release.TrySetResult();
        await Eventually.TrueAsync(() => gateway.Status("a").QueueDepth == 0 && gateway.Recorder.Frames.Count == 4, "the queue drained");
        var texts = gateway.Recorder.Frames.Select(f => f.Text).ToArray();
        var status = gateway.Status("a");
        var measured = framesDropped.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.reason", "queue_full"));
        return (texts, status.FramesDropped, measured.EvaluateAsCounter());
    }

    [Fact]
    public async Task Lifecycle_ConnectedFramesDisconnected_InOrderWithFreshStatePerConnection()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync($"c{s.Number}");
            if (s.Number == 1)
            {
                await s.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "again");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 2, "both connections delivered");
        Assert.Equal(["connected:a:1", "disconnected:a:1:1000", "connected:a:2"], gateway.Recorder.Events.Take(3));

        // The state bag a handler filled on connect is visible to frames of that connection only.
        Assert.Equal(["state-of-1", "state-of-2"], gateway.Recorder.Frames.Select(f => f.StateAtFrame));
    }
}

/// <summary>Blocks on its first frame until released.</summary>
public sealed class BlockingFrameHandler : IFrameHandler
{
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        Entered.TrySetResult();
        await Release.Task.WaitAsync(cancellationToken);
    }
}
