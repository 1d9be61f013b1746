using System.Net.WebSockets;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Configuration;

/// <summary>Reloads add, remove and restart exactly the sockets that changed, and nothing else.</summary>
public sealed class LiveReloadTests
{
    private static Task<UpstreamServer> StartStreamingServerAsync()
        => UpstreamServer.StartAsync(async s =>
        {
            // A steady stream, so a reconnect or a lost frame would show as a gap.
            for (var i = 0; i < 10_000 && s.Socket.State == WebSocketState.Open; i++)
            {
                await s.SendTextAsync($"{s.Number}:{i}");
                await Task.Delay(5);
            }
        });

    [Fact]
    public async Task Reload_AddRemoveChange_AppliedWhileUnchangedSocketIsUntouched()
    {
        await using var steady = await StartStreamingServerAsync();
        await using var removed = await UpstreamServer.StartIdleAsync();
        await using var changedOld = await UpstreamServer.StartIdleAsync();
        await using var changedNew = await UpstreamServer.StartIdleAsync();
        await using var added = await UpstreamServer.StartIdleAsync();
        var config = new TestConfig()
            .Socket("steady", steady.Url())
            .Socket("removed", removed.Url())
            .Socket("changed", changedOld.Url());
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => new[] { "steady", "removed", "changed" }.All(n => gateway.Status(n).State == SocketState.Ready), "all ready");
        await Eventually.TrueAsync(() => gateway.Recorder.For("steady").Count() > 20, "steady is streaming");
        var steadyConnection = gateway.Connection("steady");

        var diff = await gateway.ReloadAsync(config.Without("removed").Socket("changed", changedNew.Url()).Socket("added", added.Url()));

        Assert.NotNull(diff);
        Assert.Equal(["added"], diff.Added);
        Assert.Equal(["removed"], diff.Removed);
        Assert.Equal(["changed"], diff.Changed);
        Assert.Empty(diff.HandlersChanged);

        // The removed socket closed with 1001; the changed one moved servers.
        await removed.Sessions.Single().Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, removed.Sessions.Single().ClientCloseStatus);
        Assert.False(gateway.IsRunning("removed"));
        await Eventually.TrueAsync(() => changedNew.ConnectionCount == 1 && added.ConnectionCount == 1, "changed and added connected");
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, changedOld.Sessions.Single().ClientCloseStatus);

        // Unchanged: same worker, one server connection, and a gapless frame sequence across the reload.
        var before = gateway.Recorder.For("steady").Count();
        await Eventually.TrueAsync(() => gateway.Recorder.For("steady").Count() > before + 20, "steady kept streaming");
        Assert.Same(steadyConnection, gateway.Connection("steady"));
        Assert.Equal(1, steady.ConnectionCount);
        var frames = gateway.Recorder.For("steady").ToList();
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => $"1:{i}"), frames.Select(f => f.Text));
        Assert.Equal(Enumerable.Range(1, frames.Count).Select(i => (long)i), frames.Select(f => f.Sequence));
    }

    [Fact]
    public async Task Reload_HandlersOnly_AppliedWithoutReconnecting()
    {
        await using var server = await StartStreamingServerAsync();
        var config = new TestConfig().Socket("a", server.Url(), ("Handlers:0", "log"));
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => gateway.Status("a").FramesReceived > 10, "frames flowing to the log handler");
        Assert.Empty(gateway.Recorder.Frames);

        var diff = await gateway.ReloadAsync(config.Socket("a", server.Url(), ("Handlers:0", RecordingFrameHandler.Name)));

        Assert.Equal(["a"], diff!.HandlersChanged);
        Assert.Empty(diff.Changed);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count > 10, "the new handler receives frames");
        Assert.Equal(1, server.ConnectionCount);
        Assert.All(gateway.Recorder.Frames, f => Assert.Equal(1, f.Connection));
        Assert.Single(gateway.Logs.WithEventId(406));
    }

    [Fact]
    public async Task Reload_Invalid_RejectedWithKeyNamedAndRunningConfigurationKept()
    {
        await using var server = await StartStreamingServerAsync();
        var config = new TestConfig().Socket("a", server.Url());
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count > 5, "streaming");
        var connection = gateway.Connection("a");

        var diff = await gateway.ReloadAsync(new TestConfig()
            .Socket("a", new Uri("http://elsewhere.invalid/"))
            .Socket("b", server.Url(), ("Queue:FullMode", "Sometimes")));

        Assert.Null(diff);
        var errors = gateway.Logs.WithEventId(401).Select(e => e.Message).ToList();
        Assert.Contains(errors, m => m.Contains("Gateway:Sockets:a:Url: 'http://elsewhere.invalid/' is not a ws:// or wss:// URL", StringComparison.Ordinal));
        Assert.Contains(errors, m => m.Contains("Gateway:Sockets:b:Queue:FullMode: 'Sometimes' is not one of Wait, DropOldest, DropNewest", StringComparison.Ordinal));
        Assert.Same(connection, gateway.Connection("a"));
        Assert.False(gateway.IsRunning("b"));
        var before = gateway.Recorder.Frames.Count;
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count > before + 5, "still streaming");
        Assert.Equal(1, server.ConnectionCount);

        // A later valid reload applies against the last good configuration.
        await using var other = await UpstreamServer.StartIdleAsync();
        var next = await gateway.ReloadAsync(config.Socket("b", other.Url()));
        Assert.Equal(["b"], next!.Added);
        Assert.Empty(next.Changed);
    }

    [Fact]
    public async Task Reload_DisableSocket_ClosesItAndEnableStartsItAgain()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        var config = new TestConfig().Socket("a", server.Url());
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "ready");

        var off = await gateway.ReloadAsync(config.Socket("a", server.Url(), ("Enabled", "false")));
        Assert.Equal(["a"], off!.Removed);
        Assert.False(gateway.IsRunning("a"));
        Assert.Equal(SocketState.Disabled, gateway.Status("a").State); // still listed, and said so once
        Assert.Single(gateway.Logs.WithEventId(407));
        using (var health = await gateway.Http.GetAsync("/health/ready"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode); // not counted for readiness
        }

        var on = await gateway.ReloadAsync(config.Socket("a", server.Url(), ("Enabled", "true")));
        Assert.Equal(["a"], on!.Added);
        await Eventually.TrueAsync(() => server.ConnectionCount == 2, "connected again");
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "listed as running again");
    }

    [Fact]
    public async Task Start_InvalidConfiguration_FailsWithEveryProblemNamedByKey()
    {
        var config = new TestConfig()
            .Socket("prices", new Uri("http://x/"))
            .Set("Gateway:Sockets:prices:Handlers:0", "nope")
            .Set("Gateway:Sockets:prices:Reconnect:Jitter", "3")
            .Set("Gateway:Sockets:prices:Protocol", "Carrier-Pigeon")
            .Set("Gateway:Sockets:prices:ConectTimeout", "00:00:01");

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Contains("Gateway:Sockets:prices:Url: 'http://x/' is not a ws:// or wss:// URL", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Sockets:prices:Handlers:0: 'nope' is not a registered frame handler", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Sockets:prices:Protocol: 'Carrier-Pigeon' is not one of Raw", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Sockets:prices:ConectTimeout: unknown key", ex.Message, StringComparison.Ordinal);
    }
}
