using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>
/// The order of DESIGN.md "Shutdown": stop delivering, drain the queue with the socket still open,
/// then close 1001; frames read after the stop began are counted, not delivered.
/// </summary>
public sealed class ShutdownOrderTests
{
    [Fact]
    public async Task Stop_FramesQueued_AllHandledBeforeServerSeesClose1001()
    {
        const int count = 20;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < count; i++)
            {
                await s.SendTextAsync($"m{i}");
            }
        });
        var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:15").Socket("a", server.Url(), ("Handlers:0", TimedFrameHandler.Name)),
            services => services.AddFrameHandler<TimedFrameHandler>(TimedFrameHandler.Name));
        var handler = gateway.Services.GetRequiredService<TimedFrameHandler>();
        await Eventually.TrueAsync(() => gateway.Status("a").FramesReceived == count, "every frame was read");
        var stopBegan = Stopwatch.GetTimestamp();

        await gateway.DisposeAsync();

        // At 50 ms a frame, frames were still queued when the stop began.
        Assert.Contains(handler.Done, d => d.At > stopBegan);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}"), handler.Done.Select(d => d.Text));
        var session = server.LastSession!;
        await session.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, session.ClientCloseStatus);
        var closeArrived = Assert.IsType<long>(session.ClientCloseTimestamp);
        Assert.All(handler.Done, d => Assert.True(d.At < closeArrived, $"{d.Text} finished after the server saw the close"));
        Assert.Empty(gateway.Logs.WithEventId(302));
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public async Task Stop_ReadsBlockedOnFullQueueUnderWait_DrainsThenClosesWith1001AndCountsTheRest()
    {
        const int count = 40;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < count; i++)
            {
                await s.SendTextAsync($"m{i}");
            }
        });
        var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:10").Socket("a", server.Url(),
                ("Queue:Capacity", "4"), ("Queue:FullMode", "Wait"), ("Handlers:0", TimedFrameHandler.Name)),
            services => services.AddFrameHandler<TimedFrameHandler>(TimedFrameHandler.Name));
        var handler = gateway.Services.GetRequiredService<TimedFrameHandler>();
        var status = gateway.Connection("a").Status;
        await Eventually.TrueAsync(() => gateway.Connection("a").Dispatcher.IsWaitingForRoom, "reads wait for room");

        var stopping = Stopwatch.StartNew();
        await gateway.DisposeAsync();

        // Not the whole budget: the queue (4 frames at 50 ms) drains, then the socket closes in order.
        Assert.InRange(stopping.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        var session = server.LastSession!;
        await session.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, session.ClientCloseStatus);
        var closeArrived = Assert.IsType<long>(session.ClientCloseTimestamp);
        Assert.All(handler.Done, d => Assert.True(d.At < closeArrived, $"{d.Text} finished after the server saw the close"));

        // What was handled is the stream's prefix; everything else read is counted, nothing is silent.
        Assert.Equal(Enumerable.Range(0, handler.Done.Count).Select(i => $"m{i}"), handler.Done.Select(d => d.Text));
        Assert.Equal(status.FramesReceived, status.FramesHandled + status.FramesDropped);
        Assert.Equal(handler.Done.Count, status.FramesHandled);
    }

    [Fact]
    public async Task Stop_FramesArriveAfterStopBegan_NotDeliveredButCounted()
    {
        const int early = 5;
        const int late = 5;
        var sendLate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < early; i++)
            {
                await s.SendTextAsync($"early {i}");
            }

            await sendLate.Task.WaitAsync(TimeSpan.FromSeconds(30));
            for (var i = 0; i < late; i++)
            {
                await s.SendTextAsync($"late {i}");
            }
        });
        var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:15").Socket("a", server.Url(),
                ("Handlers:0", "blocking"), ("Handlers:1", RecordingFrameHandler.Name)),
            services => services.AddFrameHandler<Dispatch.BlockingFrameHandler>("blocking"));
        var blocking = gateway.Services.GetRequiredService<Dispatch.BlockingFrameHandler>();
        var recorder = gateway.Recorder;
        var status = gateway.Connection("a").Status;
        await blocking.Entered.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => status.FramesReceived == early, "the early frames were read");

        // The first frame holds the drain; the late frames arrive while the socket is stopping.
        var stopping = gateway.DisposeAsync().AsTask();
        await Eventually.TrueAsync(() => status.Snapshot().State == SocketState.Stopping, "the stop began");
        sendLate.SetResult();
        await Eventually.TrueAsync(() => status.FramesReceived == early + late, "the late frames were read");
        blocking.Release.SetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, early).Select(i => $"early {i}"), recorder.Frames.Select(f => f.Text));
        Assert.Equal(early, status.FramesHandled);
        Assert.Equal(late, status.FramesDropped);
        var summary = Assert.Single(gateway.Logs.WithEventId(114));
        Assert.Equal((early + late).ToString(CultureInfo.InvariantCulture), summary.GetStructuredStateValue("FramesReceived"));
        Assert.Equal(early.ToString(CultureInfo.InvariantCulture), summary.GetStructuredStateValue("FramesHandled"));
        Assert.Equal(late.ToString(CultureInfo.InvariantCulture), summary.GetStructuredStateValue("FramesDropped"));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, server.LastSession!.ClientCloseStatus);
    }

    /// <summary>Takes 50 ms a frame and records when each one finished.</summary>
    private sealed class TimedFrameHandler : IFrameHandler
    {
        public const string Name = "timed";

        public ConcurrentQueue<(string Text, long At)> Done { get; } = new();

        public async ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
        {
            var text = frame.GetText();
            await Task.Delay(50, cancellationToken);
            Done.Enqueue((text, Stopwatch.GetTimestamp()));
        }
    }
}
