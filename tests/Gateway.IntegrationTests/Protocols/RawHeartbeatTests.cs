using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Protocols;

/// <summary>
/// The raw protocol's application-level heart-beat (<c>Heartbeat:*</c>) against a real upstream: answers
/// keep the connection, a missing answer closes and reconnects it, answers stay away from handlers
/// unless <c>Deliver</c> is set.
/// </summary>
public sealed class RawHeartbeatTests
{
    // The supervisor's shared watchdog runs heart-beats every 250 ms (SocketSupervisor).
    private static readonly TimeSpan s_tick = TimeSpan.FromMilliseconds(250);

    // Room for a loaded machine on top of what the timing rules allow.
    private static readonly TimeSpan s_slack = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Heartbeat_PeerAnswers_ConnectionKeptAndAnswersNotDelivered()
    {
        await using var server = await UpstreamServer.StartAsync(s => AnswerPingsAsync(s, _ => "pong"));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Heartbeat:Interval", "00:00:00.200"), ("Heartbeat:Timeout", "00:00:00.700"),
            ("Heartbeat:Text", "ping"), ("Heartbeat:Expect", "pong")));

        // Six answered pings span more than Interval + Timeout several times over.
        await Eventually.TrueAsync(() => PingsReceived(server.LastSession) >= 6, "six pings were answered", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "data 6"), "the data sent with the sixth answer was handled");

        Assert.Equal(1, server.ConnectionCount);
        Assert.Equal(SocketState.Ready, gateway.Status("a").State);
        Assert.Empty(gateway.Logs.WithEventId(115));
        Assert.Empty(gateway.Recorder.DisconnectReasons);

        // The answers were consumed by the session; the data around them was delivered, in order.
        var texts = gateway.Recorder.Frames.Select(f => f.Text).ToList();
        Assert.DoesNotContain("pong", texts);
        Assert.Equal(Enumerable.Range(1, texts.Count).Select(i => $"data {i}"), texts);
        Assert.All(server.LastSession!.Received, m => Assert.Equal((WebSocketMessageType.Text, "ping"), (m.Type, Encoding.UTF8.GetString(m.Data))));
    }

    [Fact]
    public async Task Heartbeat_DeliverTrue_AnswersReachHandlers()
    {
        await using var server = await UpstreamServer.StartAsync(s => AnswerPingsAsync(s, _ => "pong"));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Heartbeat:Interval", "00:00:00.200"), ("Heartbeat:Timeout", "00:00:00.700"),
            ("Heartbeat:Text", "ping"), ("Heartbeat:Expect", "pong"), ("Heartbeat:Deliver", "true")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count >= 6, "three answers and their data were handled", TimeSpan.FromSeconds(20));

        Assert.Equal(["pong", "data 1", "pong", "data 2", "pong", "data 3"], gateway.Recorder.Frames.Select(f => f.Text).Take(6));
        Assert.Equal(1, server.ConnectionCount);
        Assert.Empty(gateway.Logs.WithEventId(115));
    }

    [Fact]
    public async Task Heartbeat_PeerStopsAnswering_ClosedWithReasonAndReconnectedInTime()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        var timeout = TimeSpan.FromMilliseconds(300);
        var accepted = new ConcurrentDictionary<int, long>();
        long lastAnswer = 0;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            accepted[s.Number] = Stopwatch.GetTimestamp();
            var answered = 0;
            await foreach (var (_, data) in s.Messages.ReadAllAsync())
            {
                // The first connection answers two pings, then keeps the socket open and ignores the rest.
                if (Encoding.UTF8.GetString(data) == "ping" && (s.Number > 1 || answered < 2))
                {
                    answered++;
                    await s.SendTextAsync("pong");
                    Volatile.Write(ref lastAnswer, Stopwatch.GetTimestamp());
                }
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Heartbeat:Interval", "00:00:00.200"), ("Heartbeat:Timeout", "00:00:00.300"),
            ("Heartbeat:Text", "ping"), ("Heartbeat:Expect", "pong")));

        await Eventually.TrueAsync(() => accepted.ContainsKey(2), "the gateway reconnected", TimeSpan.FromSeconds(20));
        var first = server.Sessions.First();
        var answersStopped = Volatile.Read(ref lastAnswer);
        Assert.True(PingsReceived(first) > 2, "the first connection got pings it did not answer");

        // The first unanswered ping goes out at most a tick after the last answer, and is due Timeout
        // later, seen by the next tick at or after that; then the close handshake and a 50 ms backoff.
        var silence = Stopwatch.GetElapsedTime(answersStopped, accepted[2]);
        Assert.InRange(silence, timeout, interval + timeout + s_tick + s_slack);

        await Eventually.TrueAsync(() => !gateway.Recorder.DisconnectReasons.IsEmpty, "handlers learned of the disconnect");
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.True(reason.ClosedByGateway);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, reason.CloseStatus);
        Assert.Contains("heart-beat", reason.CloseDescription, StringComparison.Ordinal);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, first.ClientCloseStatus);
        Assert.Contains(gateway.Logs.WithEventId(115), e => e.Message.Contains("Heartbeat:Timeout", StringComparison.Ordinal));

        // The health endpoint shows why the last connection ended.
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "ready on the second connection");
        using var response = await gateway.Http.GetAsync("/health/ready");
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var socket = body.RootElement.GetProperty("sockets").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "a");
        Assert.Contains("heart-beat", socket.GetProperty("lastCloseDescription").GetString(), StringComparison.Ordinal);
        Assert.Equal(1008, socket.GetProperty("lastCloseStatus").GetInt32());
    }

    [Fact]
    public async Task Heartbeat_ExpectPatternMatches_AnswersConsumedAndConnectionKept()
    {
        await using var server = await UpstreamServer.StartAsync(s => AnswerPingsAsync(s, n => $"pong {n}"));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Heartbeat:Interval", "00:00:00.200"), ("Heartbeat:Timeout", "00:00:00.700"),
            ("Heartbeat:Text", "ping"), ("Heartbeat:ExpectPattern", @"^pong \d+$")));

        await Eventually.TrueAsync(() => PingsReceived(server.LastSession) >= 6, "six pings were answered", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "data 6"), "the data sent with the sixth answer was handled");

        Assert.Equal(1, server.ConnectionCount);
        Assert.Empty(gateway.Logs.WithEventId(115));
        var texts = gateway.Recorder.Frames.Select(f => f.Text).ToList();
        Assert.Equal(Enumerable.Range(1, texts.Count).Select(i => $"data {i}"), texts);
    }

    [Fact]
    public async Task Heartbeat_PassiveAnyMessageCounts_ChattyPeerKeptSilentPeerReconnected()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        var timeout = TimeSpan.FromSeconds(1);
        const int ticks = 20;
        var accepted = new ConcurrentDictionary<int, long>();
        long lastSent = 0;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            accepted[s.Number] = Stopwatch.GetTimestamp();
            if (s.Number == 1)
            {
                // 2 s of messages 100 ms apart (longer than Interval + Timeout), then silence with the socket open.
                for (var i = 0; i < ticks; i++)
                {
                    await s.SendTextAsync($"tick {i}");
                    Volatile.Write(ref lastSent, Stopwatch.GetTimestamp());
                    await Task.Delay(100);
                }
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(),
            ("Heartbeat:Interval", "00:00:00.200"), ("Heartbeat:Timeout", "00:00:01")));

        await Eventually.TrueAsync(() => accepted.ContainsKey(2), "the silent connection was replaced", TimeSpan.FromSeconds(20));

        // Every message counted as alive and was data; nothing was sent to the peer.
        var firstFrames = gateway.Recorder.Frames.Where(f => f.Connection == 1).Select(f => f.Text);
        Assert.Equal(Enumerable.Range(0, ticks).Select(i => $"tick {i}"), firstFrames);
        Assert.Empty(server.Sessions.First().Received);

        // Silence is due Timeout after the first tick that found none, at most Interval + a tick after the last message.
        var silence = Stopwatch.GetElapsedTime(Volatile.Read(ref lastSent), accepted[2]);
        Assert.InRange(silence, timeout, interval + timeout + s_tick + s_slack);
        await Eventually.TrueAsync(() => !gateway.Recorder.DisconnectReasons.IsEmpty, "handlers learned of the disconnect");
        var reason = gateway.Recorder.DisconnectReasons.First();
        Assert.True(reason.ClosedByGateway);
        Assert.Contains("heart-beat", reason.CloseDescription, StringComparison.Ordinal);
    }

    /// <summary>Answers each "ping" with <paramref name="answer"/>(n), then sends "data n".</summary>
    [Fact]
    public async Task Heartbeat_HandlerHoldsFullQueue_AnswersUnreadableMeanwhileConnectionKept()
    {
        // Capacity 2 under Wait: m1 in the handler, m2 and m3 queued, m4 waiting for room, so nothing
        // (no answer either) is read for three times Interval + Timeout.
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 1; i <= 4; i++)
            {
                await s.SendTextAsync($"m{i}");
            }

            await AnswerPingsAsync(s, _ => "pong");
        });
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(),
                ("Heartbeat:Interval", "00:00:00.200"), ("Heartbeat:Timeout", "00:00:00.300"),
                ("Heartbeat:Text", "ping"), ("Heartbeat:Expect", "pong"),
                ("Queue:Capacity", "2"), ("Queue:FullMode", "Wait"),
                ("Handlers:0", "blocking"), ("Handlers:1", RecordingFrameHandler.Name)),
            services => services.AddFrameHandler<Dispatch.BlockingFrameHandler>("blocking"));
        var blocking = gateway.Services.GetRequiredService<Dispatch.BlockingFrameHandler>();
        await blocking.Entered.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => gateway.Connection("a").Dispatcher.IsWaitingForRoom, "the receive loop waits for room");

        await Task.Delay(TimeSpan.FromMilliseconds(1500));
        Assert.Empty(gateway.Logs.WithEventId(115));
        blocking.Release.TrySetResult();

        // Reading resumes: the answers queued behind m4 arrive and the connection lives on.
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count(f => f.Text.StartsWith("data", StringComparison.Ordinal)) >= 3, "answered pings after the release");
        Assert.Equal(1, server.ConnectionCount);
        Assert.Empty(gateway.Logs.WithEventId(115));
        Assert.Equal(["m1", "m2", "m3", "m4"], gateway.Recorder.Frames.Select(f => f.Text).Take(4));
    }

    private static async Task AnswerPingsAsync(UpstreamSession session, Func<int, string> answer)
    {
        var n = 0;
        await foreach (var (type, data) in session.Messages.ReadAllAsync())
        {
            if (type == WebSocketMessageType.Text && Encoding.UTF8.GetString(data) == "ping")
            {
                n++;
                await session.SendTextAsync(answer(n));
                await session.SendTextAsync($"data {n}");
            }
        }
    }

    private static int PingsReceived(UpstreamSession? session)
        => session?.Received.Count(m => Encoding.UTF8.GetString(m.Data) == "ping") ?? 0;
}
