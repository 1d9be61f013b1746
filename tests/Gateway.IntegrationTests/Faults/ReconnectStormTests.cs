using System.Diagnostics;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>Measures the whole test process, so it runs alone: no other test may allocate or start threads meanwhile.</summary>
[CollectionDefinition(nameof(ProcessWideMeasurements), DisableParallelization = true)]
public sealed class ProcessWideMeasurements;

/// <summary>Thousands of failed connects in a row leave nothing behind.</summary>
[Collection(nameof(ProcessWideMeasurements))]
public sealed class ReconnectStormTests
{
    private const int MaxCycles = 3_000;
    private static readonly TimeSpan s_maxStorm = TimeSpan.FromSeconds(12);

    [Fact]
    public async Task Reconnect_ThousandsOfDropsOnAccept_HeapAndThreadsFlatThenConnectsToAGoodServer()
    {
        var output = TestContext.Current.TestOutputHelper!;
        await using var peer = RawPeer.Start(async s =>
        {
            await s.AnswerUpgradeAsync();
            await s.WriteRawAsync(WsFrame.TextFrame("alive"));
            await s.StayOpenAsync();
        });
        peer.DropOnAccept = true; // accept the TCP connection, then reset it before reading the request
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", peer.Url(),
            ("Reconnect:MinDelay", "00:00:00.001"), ("Reconnect:MaxDelay", "00:00:00.001")));

        // Warm up (JIT, pools, the thread pool's first growth), then sample.
        await Eventually.TrueAsync(() => peer.Connections >= 300, "300 dropped attempts");
        var (heapBefore, threadsBefore) = Sample(gateway);
        var cyclesBefore = peer.Connections;
        var storm = Stopwatch.StartNew();
        while (peer.Connections < MaxCycles && storm.Elapsed < s_maxStorm)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        var (heapAfter, threadsAfter) = Sample(gateway);
        var cycles = peer.Connections - cyclesBefore;
        output.WriteLine($"{cycles} drop cycles in {storm.Elapsed.TotalSeconds:0.0} s (after 300 warm-up): heap {heapBefore / 1024.0 / 1024:0.00} -> {heapAfter / 1024.0 / 1024:0.00} MiB ({(heapAfter - heapBefore) / 1024.0 / 1024:+0.00;-0.00} MiB), threads {threadsBefore} -> {threadsAfter}");

        // The storm did happen, every attempt failed, and the socket kept trying.
        Assert.True(cycles >= 500, $"only {cycles} cycles in {storm.Elapsed}");
        Assert.NotEqual(SocketState.Ready, gateway.Status("a").State);
        Assert.NotNull(gateway.Status("a").LastError);

        // Flat: a leak of even 1 KiB per attempt would show as more than 0.5 MiB here.
        Assert.True(heapAfter - heapBefore < 2 * 1024 * 1024, $"managed heap grew by {(heapAfter - heapBefore) / 1024} KiB over {cycles} cycles");
        Assert.True(threadsAfter - threadsBefore <= 8, $"threads grew from {threadsBefore} to {threadsAfter}");

        // A good server again: the socket connects at once and delivers.
        peer.DropOnAccept = false;
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "alive"), "connected and delivered after the storm");
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "Ready after the storm");
        Assert.Null(gateway.Status("a").LastError);
    }

    private static (long Heap, int Threads) Sample(GatewayTestHost gateway)
    {
        // The test host keeps every log record in memory: that is the test kit, not the gateway.
        gateway.Logs.Clear();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        return (heap, process.Threads.Count);
    }
}
