using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Protocols;
using Gateway.Host.Protocols.Phoenix;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Protocols.Phoenix;

/// <summary>The Phoenix session's state machine on a fake clock: joins, the rejoin schedule, join timeouts, heartbeats.</summary>
public sealed class PhoenixSessionTests
{
    private readonly RecordingProtocolConnection _connection = new();
    private readonly FakeTimeProvider _time = new();

    private PhoenixSession Create(params string[] topics)
    {
        var options = new SocketOptions { Url = new Uri("ws://127.0.0.1/socket/websocket"), Protocol = SocketProtocol.Phoenix };
        options.Phoenix.HeartbeatInterval = TimeSpan.FromSeconds(30);
        foreach (var topic in topics)
        {
            options.Phoenix.Topics.Add(new PhoenixTopicOptions { Topic = topic });
        }

        return new PhoenixSession(_connection, options, _time, NullLogger.Instance);
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static ReceiveDecision Receive(PhoenixSession session, string message) => session.OnMessage(Bytes(message), FrameKind.Text, out _);

    private List<string> Posted() => [.. _connection.Posts.Select(p => Encoding.UTF8.GetString(p.Message))];

    private void Tick(PhoenixSession session, TimeSpan advance)
    {
        _time.Advance(advance);
        session.OnTick(_time.GetTimestamp());
    }

    [Fact]
    public async Task StartAsync_TwoTopics_JoinsEachWithItsRefAsJoinRefAndReadyOnceBothJoined()
    {
        var session = Create("room:a", "room:b");

        await session.StartAsync(CancellationToken.None);
        Receive(session, """["1","1","room:a","phx_reply",{"status":"ok","response":{}}]""");
        var readyAfterOne = _connection.Calls.Contains("ready:True");
        Receive(session, """["2","2","room:b","phx_reply",{"status":"ok","response":{}}]""");

        Assert.Equal(["""["1","1","room:a","phx_join",{}]""", """["2","2","room:b","phx_join",{}]"""], Posted());
        Assert.False(readyAfterOne);
        Assert.Equal("ready:True", _connection.Calls[^1]);
    }

    [Fact]
    public async Task OnTick_JoinRefusedRepeatedly_RejoinsAfterOneTwoFiveThenTenSeconds()
    {
        var session = Create("room:a");
        await session.StartAsync(CancellationToken.None);
        var delays = new List<double>();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var joinRef = _connection.Posts.Count;
            Receive(session, $$$"""["{{{joinRef}}}","{{{joinRef}}}","room:a","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]""");
            var waited = TimeSpan.Zero;
            while (_connection.Posts.Count == joinRef && waited < TimeSpan.FromMinutes(1))
            {
                Tick(session, TimeSpan.FromMilliseconds(100));
                waited += TimeSpan.FromMilliseconds(100);
            }

            delays.Add(waited.TotalSeconds);
        }

        Assert.Equal([1.0, 2.0, 5.0, 10.0, 10.0], delays);
        Assert.All(Posted(), p => Assert.Contains("phx_join", p, StringComparison.Ordinal));
        Assert.Single(_connection.Calls, c => c == "ready:True"); // the handshake ended at the first answer; readiness was never given
        Assert.Equal("ready:False", _connection.Calls.Last(c => c.StartsWith("ready:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task OnTick_JoinNeverAnswered_RetriedAfterTimeoutAndALateReplyIgnored()
    {
        var session = Create("room:a");
        await session.StartAsync(CancellationToken.None);

        Tick(session, TimeSpan.FromSeconds(9.9));
        var beforeTimeout = _connection.Posts.Count;
        Tick(session, TimeSpan.FromSeconds(0.1)); // 10 s: timed out, rejoin scheduled in 1 s
        Tick(session, TimeSpan.FromSeconds(1));
        Receive(session, """["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"""); // the first join's late reply

        Assert.Equal(1, beforeTimeout);
        Assert.Equal(["""["1","1","room:a","phx_join",{}]""", """["2","2","room:a","phx_join",{}]"""], Posted());
        Assert.Equal("ready:False", _connection.Calls.Last(c => c.StartsWith("ready:", StringComparison.Ordinal))); // the late reply joined nothing
    }

    [Fact]
    public async Task OnTick_HeartbeatUnansweredByTheNextInterval_ConnectionFails()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);

        Tick(session, TimeSpan.FromSeconds(30));
        Receive(session, """[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]""");
        Tick(session, TimeSpan.FromSeconds(30));
        Tick(session, TimeSpan.FromSeconds(29));
        var beforeDeadline = _connection.Failures.Count;
        Tick(session, TimeSpan.FromSeconds(1));

        Assert.Equal(["""[null,"1","phoenix","heartbeat",{}]""", """[null,"2","phoenix","heartbeat",{}]"""], Posted());
        Assert.Equal(0, beforeDeadline);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, Assert.Single(_connection.Failures).Status);
    }

    [Fact]
    public async Task OnMessage_PushReplyAndMalformed_ReplyCompletesTheSendMalformedFails()
    {
        var session = Create("room:a");
        await session.StartAsync(CancellationToken.None);
        Receive(session, """["1","1","room:a","phx_reply",{"status":"ok","response":{}}]""");
        var scratch = new System.Buffers.ArrayBufferWriter<byte>();
        var wire = session.Encode(new Gateway.Host.Sockets.OutboundPart(Bytes("""{"n":1}"""), FrameKind.Text, [new("topic", "room:a"), new("event", "ping")]), scratch, out _, out var replyKey);

        Receive(session, $$$"""["1","{{{replyKey}}}","room:a","phx_reply",{"status":"error","response":{"reason":"no"}}]""");
        var malformed = Receive(session, """["1","2","room:a"]""");

        Assert.Equal($$"""["1","{{replyKey}}","room:a","ping",{"n":1}]""", Encoding.UTF8.GetString(wire.Span));
        var reply = Assert.Single(_connection.Replies);
        Assert.Equal((replyKey, SendStatus.Refused, """{"reason":"no"}"""), (reply.ReplyKey, reply.Status, Encoding.UTF8.GetString(reply.Reply)));
        Assert.Equal(ReceiveDecision.Close, malformed);
        Assert.Equal(WebSocketCloseStatus.ProtocolError, Assert.Single(_connection.Failures).Status);
    }
}
