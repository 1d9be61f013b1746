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
    private static async Task Script(RawPeerSession s)
    {
        await s.AnswerUpgradeAsync();
        await s.WriteRawAsync(WsFrame.TextFrame("alive"));
        await s.StayOpenAsync();
    }

    /// <param name="fault">drop: the peer accepts TCP and resets it before reading the request; refuse: nothing listens on the port.</param>
    /// <param name="maxCycles">Attempts in all, warm-up included.</param>
    /// <param name="maxSeconds">Longest the storm runs after the warm-up.</param>
    [Theory]
    [InlineData("drop", 3_000, 10)]
    [InlineData("refuse", 1_500, 5)]
    public async Task Reconnect_ThousandsOfFailedAttempts_HeapAndThreadsFlatThenConnectsToAGoodServer(string fault, int maxCycles, int maxSeconds)
    {
        var output = TestContext.Current.TestOutputHelper!;
        var port = RawPeer.RefusingPort();
        RawPeer? peer = null;
        if (fault == "drop")
        {
            peer = RawPeer.Start(Script, port);
            peer.DropOnAccept = true; // accept the TCP connection, then reset it before reading the request
        }

        try
        {
            await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", new Uri($"ws://127.0.0.1:{port}/ws"),
                ("Reconnect:MinDelay", "00:00:00.001"), ("Reconnect:MaxDelay", "00:00:00.001")));

            // Consecutive failed attempts, as health counts them (a metric collector would keep every measurement in memory).
            long Attempts() => gateway.Status("a").ReconnectAttempt;

            // Warm up (JIT, pools, the thread pool's first growth), then sample.
            await Eventually.TrueAsync(() => Attempts() >= 300, "300 failed attempts");
            var (heapBefore, threadsBefore) = Sample(gateway);
            var cyclesBefore = Attempts();
            var storm = Stopwatch.StartNew();
            while (Attempts() < maxCycles && storm.Elapsed < TimeSpan.FromSeconds(maxSeconds))
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }

            var (heapAfter, threadsAfter) = Sample(gateway);
            var cycles = Attempts() - cyclesBefore;
            output.WriteLine($"{fault}: {cycles} failed attempts in {storm.Elapsed.TotalSeconds:0.0} s (after {cyclesBefore} warm-up): heap {heapBefore / 1024.0 / 1024:0.00} -> {heapAfter / 1024.0 / 1024:0.00} MiB ({(heapAfter - heapBefore) / 1024:+#,0;-#,0;0} KiB), threads {threadsBefore} -> {threadsAfter}");

            // The storm did happen, every attempt failed, and the socket kept trying.
            Assert.True(cycles >= 300, $"only {cycles} attempts in {storm.Elapsed}");
            Assert.NotEqual(SocketState.Ready, gateway.Status("a").State);
            Assert.NotNull(gateway.Status("a").LastError);

            // Flat: a leak of 0.5 KiB per attempt over 2,000 attempts would fail it; measured noise is tens of KiB.
            Assert.True(heapAfter - heapBefore < 1024 * 1024, $"managed heap grew by {(heapAfter - heapBefore) / 1024} KiB over {cycles} attempts");
            Assert.True(threadsAfter - threadsBefore <= 8, $"threads grew from {threadsBefore} to {threadsAfter}");

            // A good server again: the socket connects and delivers.
            if (peer is null)
            {
                peer = RawPeer.Start(Script, port);
            }
            else
            {
                peer.DropOnAccept = false;
            }

            await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "alive"), "connected and delivered after the storm");
            await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "Ready after the storm");
            Assert.Null(gateway.Status("a").LastError);
        }
        finally
        {
            if (peer is not null)
            {
                await peer.DisposeAsync();
            }
        }
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
