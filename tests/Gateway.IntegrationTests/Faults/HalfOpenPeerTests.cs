using System.Diagnostics;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>
/// Peers whose TCP connection stays open after the upgrade but that never send anything again, never
/// answer a ping and never read (a half-open connection, a hung server): detected, health says why, reconnect.
/// </summary>
public sealed class HalfOpenPeerTests
{
    /// <summary>Each connection gets one frame; connection 1 then plays dead, the next ones stay quiet but alive.</summary>
    private static RawPeer StartDeadFirstPeer(TaskCompletionSource<RawPeerSession> dead) => RawPeer.Start(async s =>
    {
        await s.AnswerUpgradeAsync();
        await s.WriteRawAsync(WsFrame.TextFrame($"hello from {s.Number}"));
        if (s.Number == 1)
        {
            dead.TrySetResult(s);
        }

        await s.StayOpenAsync();
    });

    [Fact]
    public async Task KeepAliveTimeout_HalfOpenPeerAfterAFrame_DetectedHealthSaysWhyAndReconnects()
    {
        var dead = new TaskCompletionSource<RawPeerSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var peer = StartDeadFirstPeer(dead);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", peer.Url(),
            ("KeepAliveInterval", "00:00:00.200"), ("KeepAliveTimeout", "00:00:00.500"),
            ("Reconnect:MinDelay", "00:00:01"), ("Reconnect:MaxDelay", "00:00:01")));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the first frame arrived");
        var deadSince = Stopwatch.StartNew();

        // Dropped (no close frame: the peer would not answer one), health has an error while waiting to reconnect.
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Waiting, "the dead peer was detected");
        var detectedAfter = deadSince.Elapsed;
        var waiting = gateway.Status("a");
        Assert.False(string.IsNullOrEmpty(waiting.LastError), "health says why while waiting");
        Assert.Null(waiting.LastCloseStatus);
        Assert.True(detectedAfter < TimeSpan.FromSeconds(10), $"detected after {detectedAfter}");

        // The cause is in the disconnect reason's exception chain (health and event 103 say only "Aborted": see docs/reliability.md).
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.Null(reason.CloseStatus);
        Assert.Contains("KeepAliveTimeout", reason.Error?.ToString(), StringComparison.Ordinal);

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "hello from 2"), "reconnected");
        Assert.Equal(["hello from 1", "hello from 2"], gateway.Recorder.Frames.Select(f => f.Text));
        Assert.Equal(2, peer.Connections);
    }

    [Fact]
    public async Task NoMessageTimeout_HalfOpenPeerAndNoPings_DroppedWithoutWaitingForTheDeadPeerAndReconnects()
    {
        var dead = new TaskCompletionSource<RawPeerSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var peer = StartDeadFirstPeer(dead);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", peer.Url(),
            ("KeepAliveInterval", "00:00:00"), ("NoMessageTimeout", "00:00:01")));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the first frame arrived");
        var deadSince = Stopwatch.StartNew();

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "hello from 2"), "the dead connection was replaced");
        var replacedAfter = deadSince.Elapsed;

        // Not before NoMessageTimeout of silence; and the close did not wait on a peer that answers nothing.
        Assert.True(replacedAfter >= TimeSpan.FromSeconds(0.9), $"replaced after {replacedAfter}");
        var status = gateway.Status("a");
        Assert.Contains("NoMessageTimeout", status.LastCloseDescription, StringComparison.Ordinal);
        Assert.Single(gateway.Logs.Gateway(107));
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.True(reason.ClosedByGateway);
        Assert.Contains("NoMessageTimeout", reason.CloseDescription, StringComparison.Ordinal);

        // What reached the dead peer's socket: no close frame (the connection was dropped), then the end of the stream.
        var session = await dead.Task;
        Assert.Null(await session.ReadClientFrameAsync(WsFrame.Close).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, peer.Connections);
    }
}
