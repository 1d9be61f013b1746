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

    [Fact]
    public async Task Receive_SeveralFramesPerMessageAndOneOverTwoMessages_EachDeliveredWithItsHeadersInOrder()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync("n:1\nA|n:2\nB|n:3\nC");
            await s.SendTextAsync("n:4\nDD+");
            await s.SendTextAsync("EE");
            await s.SendTextAsync("n:5\nF");
        });
        var protocol = new SplittingProtocol();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url()),
            services => services.AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5, "five frames");
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal(["A", "B", "C", "DDEE", "F"], frames.Select(f => f.Text));
        Assert.Equal(["1", "2", "3", "4", "5"], frames.Select(f => Assert.Single(f.Headers, h => h.Key == "n").Value));
        Assert.Equal([1L, 2, 3, 4, 5], frames.Select(f => f.Sequence));
        Assert.Equal(5, gateway.Status("a").FramesReceived);
    }

    /// <summary>
    /// Frames separated by '|', each "headers\npayload"; a message ending in '+' continues in the
    /// next one (assembled in a buffer from the socket's pool), as STOMP frames may.
    /// </summary>
    private sealed class SplittingProtocol : IProtocol
    {
        public IReadOnlyList<string> SubProtocols(SocketOptions options) => [];

        public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options) => new SplittingSession(connection);
    }

    private sealed class SplittingSession(IProtocolConnection connection) : PassThroughSession
    {
        private int _next;
        private byte[]? _partial;
        private int _partialLength;

        public override ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
        {
            _next = 0;
            if (message.EndsWith("+"u8))
            {
                _partial = connection.Pool.Rent(1024);
                message[..^1].CopyTo(_partial);
                _partialLength = message.Length - 1;
                frame = default;
                return ReceiveDecision.Consumed;
            }

            if (_partial is { } partial)
            {
                message.CopyTo(partial.AsSpan(_partialLength));
                var length = _partialLength + message.Length;
                _partial = null;
                _next = message.Length;
                frame = Frame(partial.AsSpan(0, length), 0) with { Buffer = partial };
                return ReceiveDecision.Deliver;
            }

            return TryNextFrame(message, out frame) ? ReceiveDecision.Deliver : ReceiveDecision.Consumed;
        }

        public override bool TryNextFrame(ReadOnlySpan<byte> message, out InboundFrame frame)
        {
            if (_next >= message.Length)
            {
                frame = default;
                return false;
            }

            var end = message[_next..].IndexOf((byte)'|');
            var length = end < 0 ? message.Length - _next : end;
            frame = Frame(message.Slice(_next, length), _next);
            _next += length + 1;
            return true;
        }

        private static InboundFrame Frame(ReadOnlySpan<byte> piece, int start)
        {
            var headersEnd = piece.IndexOf((byte)'\n') + 1;
            return new InboundFrame(start + headersEnd, piece.Length - headersEnd, HeadersOffset: start, HeadersLength: headersEnd);
        }
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
