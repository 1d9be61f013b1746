using System.Net.WebSockets;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>Disconnects of every kind end in a reconnect with backoff, with the reason kept.</summary>
public sealed class ReconnectTests
{
    [Theory]
    [InlineData(WebSocketCloseStatus.NormalClosure)]
    [InlineData(WebSocketCloseStatus.EndpointUnavailable)]
    [InlineData(WebSocketCloseStatus.InternalServerError)]
    public async Task ServerClose_AnyCode_HandshakeAnsweredReasonKeptAndReconnects(WebSocketCloseStatus code)
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync($"from {s.Number}");
            if (s.Number == 1)
            {
                await s.CloseAsync(code, "server says bye");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "from 2"), "the second connection delivered");
        var first = server.Sessions.First();

        // The gateway answered the close handshake with the server's code.
        Assert.Equal(code, first.ClientCloseStatus);
        Assert.Equal(["from 1", "from 2"], gateway.Recorder.Frames.Select(f => f.Text));
        Assert.Equal([1L, 2], gateway.Recorder.Frames.Select(f => f.Connection));
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.Equal(code, reason.CloseStatus);
        Assert.Equal("server says bye", reason.CloseDescription);
        Assert.False(reason.ClosedByGateway);
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "ready again");
        Assert.Equal((int)code, gateway.Status("a").LastCloseStatus);
    }

    [Fact]
    public async Task AbruptTcpDrop_NoCloseFrame_ReconnectsAndRecordsError()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync($"from {s.Number}");
            if (s.Number == 1)
            {
                // Let the client finish its handshake and read the frame: a reset can discard unread data.
                await Task.Delay(300);
                s.Abort();
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "from 2"), "the second connection delivered");
        Assert.Equal(["from 1", "from 2"], gateway.Recorder.Frames.Select(f => f.Text));
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.Null(reason.CloseStatus);
        Assert.NotNull(reason.Error);
        Assert.Equal(DisconnectKind.ConnectionLost, reason.Kind);
        var status = gateway.Status("a");
        Assert.Equal("connection_lost", status.LastDisconnectReason);
        Assert.Equal("neither", status.LastClosedBy);
        Assert.StartsWith("connection", status.LastDisconnect, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerRestart_SamePort_EveryFrameFromBothLivesDelivered()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 20; i++)
            {
                await s.SendTextAsync($"life {s.Number} frame {i}");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 20, "the first life's frames arrived");

        await server.RestartAsync();

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 40, "the second life's frames arrived");
        Assert.Equal(
            Enumerable.Range(0, 20).Select(i => $"life 1 frame {i}").Concat(Enumerable.Range(0, 20).Select(i => $"life 2 frame {i}")),
            gateway.Recorder.Frames.Select(f => f.Text));
    }

    [Fact]
    public async Task HandshakeRefused401_BacksOffWithGrowingDelaysAndKeepsStatus()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 401;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Reconnect:MinDelay", "00:00:00.100"), ("Reconnect:MaxDelay", "00:00:01"), ("Reconnect:Factor", "2")));

        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 4, "four attempts were made");
        var status = gateway.Status("a");
        Assert.Equal(401, status.LastHttpStatus);
        Assert.Contains("401", status.LastError, StringComparison.Ordinal);
        Assert.NotEqual(SocketState.Ready, status.State);

        // Delays 100, 400, 900 ms (no jitter): the log records each wait.
        var waits = gateway.Logs.WithEventId(104).Take(3).Select(e => e.Message).ToList();
        Assert.Contains("00:00:00.1000000", waits[0], StringComparison.Ordinal);
        Assert.Contains("00:00:00.4000000", waits[1], StringComparison.Ordinal);
        Assert.Contains("00:00:00.9000000", waits[2], StringComparison.Ordinal);
        Assert.Contains(gateway.Logs.WithEventId(102), e => e.Message.Contains("HTTP 401", StringComparison.Ordinal));

        // The server comes back: the socket connects and the error clears.
        server.RejectHandshake = null;
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "connected after the server accepted");
        Assert.Null(gateway.Status("a").LastHttpStatus);
    }

    [Fact]
    public async Task ResetAfter_ConnectionStayedUpLongEnough_BackoffStartsOverAtAttemptOne()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            // Connections 1 and 2 flap; connection 3 stays up past ResetAfter before it closes.
            if (s.Number == 3)
            {
                await Task.Delay(700);
            }

            if (s.Number <= 3)
            {
                await s.CloseAsync(WebSocketCloseStatus.NormalClosure);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("Reconnect:ResetAfter", "00:00:00.400")));

        await Eventually.TrueAsync(() => server.ConnectionCount == 4, "the fourth connection was made");
        var attempts = gateway.Logs.WithEventId(104).Select(e => e.Message).Take(3).ToList();
        Assert.Contains("(attempt 1)", attempts[0], StringComparison.Ordinal);
        Assert.Contains("(attempt 2)", attempts[1], StringComparison.Ordinal);
        Assert.Contains("(attempt 1)", attempts[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReconnectStorm_RefusedEvery10Ms_AttemptsGoOnWhileConnectionLogLinesStayBounded()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Reconnect:MinDelay", "00:00:00.010"), ("Reconnect:MaxDelay", "00:00:00.010")));

        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 60, "sixty refused attempts");

        // Within the first 10 s window: 20 connection lines at most (five cycles), however many attempts.
        var cycleLines = gateway.Logs.GetSnapshot().Count(r => r.Id.Id is 100 or 102 or 103 or 104);
        Assert.InRange(cycleLines, 4, 20);
        Assert.Equal(503, gateway.Status("a").LastHttpStatus); // health still says why, every time
    }

    [Fact]
    public async Task MaxAttempts_Exhausted_SocketStopsAndSaysSo()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => 503;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("Reconnect:MaxAttempts", "2")));

        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Stopped, "the socket stopped");
        await Task.Delay(300);
        Assert.Equal(2, server.HandshakeHeaders.Count); // MaxAttempts failed attempts, not one more
        Assert.Single(gateway.Logs.WithEventId(105));
        Assert.Equal(503, gateway.Status("a").LastHttpStatus);
    }

    [Fact]
    public async Task MaxAttempts_ServerClosesWithoutAnswering_OneConnectionPerAttempt()
    {
        // Reads the upgrade request, then closes (FIN) without a word: every attempt fails the same way.
        await using var peer = RawPeer.Start(async session =>
        {
            await session.ReadRequestAsync(session.PeerStopping);
            session.Close();
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", peer.Url(), ("Reconnect:MaxAttempts", "3")));

        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Stopped, "the socket stopped");
        await Task.Delay(300);
        if (TestTransport.IsClientWebSocket)
        {
            // SocketsHttpHandler sends a request again on a new connection when one closed before any answer.
            Assert.InRange(peer.Connections, 3, 3 * 4);
        }
        else
        {
            Assert.Equal(3, peer.Connections); // the gateway's own upgrade sends each attempt's request once
        }

        Assert.Equal(0, peer.ScriptFailures);
    }

    [Fact]
    public async Task NoMessageTimeout_SilentServer_ConnectionDroppedAndReestablished()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("NoMessageTimeout", "00:00:01")));

        await Eventually.TrueAsync(() => server.ConnectionCount >= 2, "the silent connection was replaced");
        Assert.NotEmpty(gateway.Logs.WithEventId(107));
        await Eventually.TrueAsync(() => !gateway.Recorder.DisconnectReasons.IsEmpty, "handlers learned of the disconnect");
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.True(reason.ClosedByGateway);
        Assert.Contains("NoMessageTimeout", reason.CloseDescription, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoMessageTimeout_ChattyServer_ConnectionKept()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 25; i++)
            {
                await s.SendTextAsync("tick");
                await Task.Delay(100);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("NoMessageTimeout", "00:00:01")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 25, "all ticks arrived");
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public async Task NoMessageTimeout_HandlerHoldsFullQueue_ConnectionKeptAndEveryFrameHandledInOrder()
    {
        // Capacity 2: m1 in the handler, m2 and m3 queued, m4 read and waiting for room, so reading stops.
        var noMessageTimeout = TimeSpan.FromSeconds(1);
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 1; i <= 4; i++)
            {
                await s.SendTextAsync($"m{i}");
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("NoMessageTimeout", "00:00:01"),
                ("Queue:Capacity", "2"), ("Queue:FullMode", "Wait"),
                ("Handlers:0", "blocking"), ("Handlers:1", RecordingFrameHandler.Name)),
            services => services.AddFrameHandler<Dispatch.BlockingFrameHandler>("blocking"));
        var blocking = gateway.Services.GetRequiredService<Dispatch.BlockingFrameHandler>();
        await blocking.Entered.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => gateway.Status("a").FramesReceived == 4 && gateway.Connection("a").Dispatcher.IsWaitingForRoom, "the receive loop waits for room");

        // Three times NoMessageTimeout with nothing read: backpressure, not silence.
        await Task.Delay(3 * noMessageTimeout);
        Assert.Equal(1, server.ConnectionCount);
        Assert.Empty(gateway.Logs.WithEventId(107));
        Assert.Empty(gateway.Recorder.Frames);
        Assert.Equal(SocketState.Ready, gateway.Status("a").State);

        var released = DateTimeOffset.UtcNow;
        blocking.Release.TrySetResult();
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 4, "every frame was handled");
        Assert.Equal(["m1", "m2", "m3", "m4"], gateway.Recorder.Frames.Select(f => f.Text));
        Assert.All(gateway.Recorder.Frames, f => Assert.Equal(1, f.Connection));

        // The server is silent from now on, so the connection does end, but only NoMessageTimeout after
        // reading resumed: the time spent waiting for room does not count as silence.
        await Eventually.TrueAsync(() => gateway.Logs.WithEventId(107).Count > 0, "the real silence was detected");
        var dropped = gateway.Logs.WithEventId(107)[0].Timestamp;
        Assert.True(dropped - released >= noMessageTimeout - TimeSpan.FromMilliseconds(50), $"dropped {(dropped - released).TotalMilliseconds} ms after the handler released the queue");
        Assert.Equal(0, gateway.Status("a").FramesDropped);
    }

    [Fact]
    public async Task KeepAliveTimeout_PeerStopsAnsweringPings_DeadPeerDetected()
    {
        await using var peer = await SilentPeer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", peer.Url,
            ("KeepAliveInterval", "00:00:00.200"), ("KeepAliveTimeout", "00:00:00.500")));

        await Eventually.TrueAsync(() => peer.Connections >= 2, "the dead connection was detected and replaced");
        await Eventually.TrueAsync(() => !gateway.Recorder.DisconnectReasons.IsEmpty, "handlers learned of the disconnect");
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.Null(reason.CloseStatus);
        Assert.NotNull(reason.Error);
        Assert.Equal(DisconnectKind.KeepAliveTimeout, reason.Kind);
        if (!TestTransport.IsClientWebSocket)
        {
            Assert.Equal("no pong within KeepAliveTimeout 0.5 s", reason.CloseDescription);
        }
    }
}
