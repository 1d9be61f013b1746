using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Protocols;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Protocols;

/// <summary>
/// The protocol seam over real sockets, with a scripted session standing in for STOMP: a handshake
/// the server must answer, control traffic kept from handlers, outcomes per frame.
/// </summary>
public sealed class ProtocolSeamTests
{
    [Fact]
    public async Task Handshake_ServerNeverAnswers_HandshakingThenAttemptFailsAfterHandshakeTimeoutAndRetries()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        var protocol = new ScriptedProtocol();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("HandshakeTimeout", "00:00:00.400")),
            services => services.AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));

        await Eventually.TrueAsync(
            () => gateway.Status("a") is { State: SocketState.Handshaking, StateDetail: "waiting for welcome" },
            "the socket is handshaking, and health says for what");
        await Eventually.TrueAsync(() => server.ConnectionCount >= 2, "a second attempt followed the timeout");

        var first = server.Sessions.First();
        await first.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, first.ClientCloseStatus);
        Assert.Equal("CONNECT", Encoding.UTF8.GetString(first.Received.First().Data));
        Assert.Contains("HandshakeTimeout", gateway.Status("a").LastError, StringComparison.Ordinal);
        Assert.NotEqual(SocketState.Ready, gateway.Status("a").State);
        Assert.Empty(gateway.Recorder.Events); // never Ready: handlers never heard of a connection
    }

    [Fact]
    public async Task Handshake_ServerAnswersLater_ControlFirstThenQueuedSendsAndOnConnectedOnlyAfterReady()
    {
        var welcomed = new TaskCompletionSource();
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await Eventually.TrueAsync(() => s.Received.Count >= 1, "CONNECT arrived");
            await Task.Delay(300);
            welcomed.TrySetResult();
            await s.SendTextAsync("welcome");
            await s.SendTextAsync("data-1");
        });
        server.RejectHandshake = _ => 503;
        var protocol = new ScriptedProtocol();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url()),
            services => services.AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count >= 1, "the first attempt was refused");
        Assert.Equal(SendStatus.Queued, (await gateway.Sender.SendTextAsync("a", "user-1")).Status);

        server.RejectHandshake = null;
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "data-1 was delivered");
        await Eventually.TrueAsync(() => server.LastSession?.Received.Count == 2, "the queued send arrived");

        var session = server.LastSession!;
        Assert.Equal(["CONNECT", "user-1"], session.Received.Select(r => Encoding.UTF8.GetString(r.Data)));
        Assert.True(protocol.Sessions.Single().ReadyAt is { } readyAt && readyAt >= protocol.Sessions.Single().WelcomeAt);
        Assert.Equal(["data-1"], gateway.Recorder.Frames.Select(f => f.Text)); // "welcome" is control traffic
        Assert.Equal(["connected:a:1"], gateway.Recorder.Events);
        Assert.Equal(SocketState.Ready, gateway.Status("a").State);
        Assert.Null(gateway.Status("a").StateDetail);
    }

    [Fact]
    public async Task Complete_FramesWithCompletionTokens_EachToldItsOutcomeOnce()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await Eventually.TrueAsync(() => s.Received.Count >= 1, "CONNECT arrived");
            await s.SendTextAsync("welcome");
            foreach (var text in (string[])["m1", "boom", "m3"])
            {
                await s.SendTextAsync(text);
            }
        });
        var protocol = new ScriptedProtocol { WithTokens = true };
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("Handlers:0", RecordingFrameHandler.Name), ("Handlers:1", ThrowingFrameHandler.Name)),
            services => services.AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));

        await Eventually.TrueAsync(() => protocol.Sessions.Sum(s => s.Outcomes.Count) == 3, "three outcomes");

        var outcomes = protocol.Sessions.Single().Outcomes.OrderBy(o => o.Token).ToList();
        Assert.Equal([(1L, FrameOutcome.Handled), (2L, FrameOutcome.HandlerFailed), (3L, FrameOutcome.Handled)], outcomes.Select(o => (o.Token, o.Outcome)));
        Assert.Equal(["m1", "boom", "m3"], gateway.Recorder.Frames.Select(f => f.Text)); // every handler still ran
    }

    /// <summary>Sends CONNECT, is Ready once the server said "welcome"; optionally asks for every frame's outcome.</summary>
    private sealed class ScriptedProtocol : IProtocol
    {
        public bool WithTokens { get; init; }

        public ConcurrentQueue<ScriptedSession> Sessions { get; } = new();

        public IReadOnlyList<string> SubProtocols(SocketOptions options) => [];

        public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
        {
            var session = new ScriptedSession(connection, WithTokens);
            Sessions.Enqueue(session);
            return session;
        }
    }

    private sealed class ScriptedSession(IProtocolConnection connection, bool withTokens) : PassThroughSession
    {
        private long _tokens;

        public DateTimeOffset? WelcomeAt { get; private set; }

        public DateTimeOffset? ReadyAt { get; private set; }

        public ConcurrentQueue<(long Token, FrameOutcome Outcome)> Outcomes { get; } = new();

        public override async ValueTask StartAsync(CancellationToken cancellationToken)
        {
            connection.SetReady(false, "waiting for welcome");
            await connection.SendControlAsync("CONNECT"u8.ToArray(), FrameKind.Text, cancellationToken);
        }

        public override ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
        {
            if (message.SequenceEqual("welcome"u8))
            {
                frame = default;
                WelcomeAt = DateTimeOffset.UtcNow;
                ReadyAt = DateTimeOffset.UtcNow;
                connection.SetReady(true);
                return ReceiveDecision.Consumed;
            }

            frame = new InboundFrame(0, message.Length, withTokens ? Interlocked.Increment(ref _tokens) : 0);
            return ReceiveDecision.Deliver;
        }

        public override void Complete(long token, FrameOutcome outcome) => Outcomes.Enqueue((token, outcome));
    }
}
