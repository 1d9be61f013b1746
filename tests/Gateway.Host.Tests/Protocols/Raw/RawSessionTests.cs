using Gateway.Host.Sockets;
using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Protocols;
using Gateway.Host.Protocols.Raw;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Protocols.Raw;

public sealed class RawSessionTests
{
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly RecordingProtocolConnection _connection = new();

    private static SocketOptions Options(HeartbeatOptions? heartbeat = null, params OnConnectMessage[] onConnect)
        => new() { Heartbeat = heartbeat ?? new HeartbeatOptions(), OnConnect = [.. onConnect] };

    private static HeartbeatOptions PingPong(bool deliver = false)
        => new() { Interval = s_interval, Timeout = s_timeout, Text = "ping", Expect = "pong", Deliver = deliver };

    private async Task<RawSession> StartedAsync(SocketOptions options)
    {
        var session = new RawSession(_connection, options, _time);
        await session.StartAsync(TestContext.Current.CancellationToken);
        _connection.Calls.Clear();
        _connection.Posts.Clear();
        return session;
    }

    private void Tick(RawSession session, TimeSpan advance)
    {
        _time.Advance(advance);
        session.OnTick(_time.GetTimestamp());
    }

    private static ReceiveDecision Receive(RawSession session, string text, FrameKind kind = FrameKind.Text)
        => session.OnMessage(Encoding.UTF8.GetBytes(text), kind, out _);

    [Fact]
    public async Task StartAsync_OnConnectMessages_SentInOrderAsControlThenReady()
    {
        var session = new RawSession(_connection, Options(null,
            new OnConnectMessage { Text = "hello" },
            new OnConnectMessage { Binary = Convert.ToBase64String([1, 2, 3]) },
            new OnConnectMessage { Text = "subscribe" }), _time);

        await session.StartAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["control:Text:hello", "control:Binary:AQID", "control:Text:subscribe", "ready:True"], _connection.Calls);
        Assert.Equal([1, 2, 3], _connection.Controls[1].Message);
    }

    [Fact]
    public async Task StartAsync_NoOnConnectMessages_OnlyReady()
    {
        var session = new RawSession(_connection, Options(), _time);

        await session.StartAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["ready:True"], _connection.Calls);
    }

    [Fact]
    public void OnTick_BeforeStart_SendsNothing()
    {
        var session = new RawSession(_connection, Options(PingPong()), _time);

        Tick(session, s_interval * 3);

        Assert.Empty(_connection.Calls);
    }

    [Fact]
    public async Task OnTick_BeforeInterval_SendsNothing()
    {
        var session = await StartedAsync(Options(PingPong()));

        Tick(session, s_interval - TimeSpan.FromTicks(1));

        Assert.Empty(_connection.Calls);
    }

    [Fact]
    public async Task OnTick_AtInterval_PostsThePingAsControl()
    {
        var session = await StartedAsync(Options(PingPong()));

        Tick(session, s_interval);

        Assert.Equal(["post:Text:ping"], _connection.Calls);
    }

    [Fact]
    public async Task OnTick_BinaryPing_PostsItsBytesAsBinary()
    {
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = s_interval, Binary = Convert.ToBase64String([9, 8]), Expect = "pong" }));

        Tick(session, s_interval);

        var (message, kind) = Assert.Single(_connection.Posts);
        Assert.Equal([9, 8], message);
        Assert.Equal(FrameKind.Binary, kind);
    }

    [Fact]
    public async Task OnTick_EveryInterval_PostsOnePingEach()
    {
        var session = await StartedAsync(Options(PingPong()));

        Tick(session, s_interval);
        Receive(session, "pong");
        Tick(session, s_interval / 2);
        Tick(session, s_interval / 2);

        Assert.Equal(["post:Text:ping", "post:Text:ping"], _connection.Calls);
    }

    [Fact]
    public async Task OnMessage_ExpectedAnswer_ConsumedAndResetsTheDeadline()
    {
        var session = await StartedAsync(Options(PingPong()));
        Tick(session, s_interval);
        Tick(session, s_timeout / 2);

        var decision = Receive(session, "{\"type\":\"pong\"}");
        Tick(session, s_timeout);

        Assert.Equal(ReceiveDecision.Consumed, decision);
        Assert.Empty(_connection.Failures);
    }

    [Fact]
    public async Task OnMessage_ExpectedAnswerWithDeliver_DeliveredAndResetsTheDeadline()
    {
        var session = await StartedAsync(Options(PingPong(deliver: true)));
        Tick(session, s_interval);

        var decision = session.OnMessage("pong"u8, FrameKind.Text, out var frame);
        Tick(session, s_timeout);

        Assert.Equal(ReceiveDecision.Deliver, decision);
        Assert.Equal(new InboundFrame(0, 4, 0), frame);
        Assert.Empty(_connection.Failures);
    }

    [Fact]
    public async Task OnMessage_ExpectPatternMatches_ConsumedAndResetsTheDeadline()
    {
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = s_interval, Timeout = s_timeout, Text = "ping", ExpectPattern = "^pong-[0-9]+$" }));
        Tick(session, s_interval);

        var other = Receive(session, "pong-x");
        var answer = Receive(session, "pong-42");
        Tick(session, s_timeout);

        Assert.Equal((ReceiveDecision.Deliver, ReceiveDecision.Consumed), (other, answer));
        Assert.Empty(_connection.Failures);
    }

    [Fact]
    public async Task OnMessage_ExpectPatternOnBinaryMessage_DeliveredNotAnAnswer()
    {
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = s_interval, Timeout = s_timeout, Text = "ping", ExpectPattern = "pong" }));
        Tick(session, s_interval);

        var decision = Receive(session, "pong", FrameKind.Binary);
        Tick(session, s_timeout);

        Assert.Equal(ReceiveDecision.Deliver, decision);
        Assert.Single(_connection.Failures);
    }

    [Fact]
    public async Task OnMessage_OtherMessage_DeliveredWholeAndDoesNotResetTheDeadline()
    {
        var session = await StartedAsync(Options(PingPong()));
        Tick(session, s_interval);

        var decision = session.OnMessage("data"u8, FrameKind.Text, out var frame);
        Tick(session, s_timeout);

        Assert.Equal(ReceiveDecision.Deliver, decision);
        Assert.Equal(new InboundFrame(0, 4, 0), frame);
        Assert.Single(_connection.Failures);
    }

    [Fact]
    public async Task OnTick_NoAnswerWithinTimeout_FailsOnceWithPolicyViolation()
    {
        var session = await StartedAsync(Options(PingPong()));
        Tick(session, s_interval);

        Tick(session, s_timeout - TimeSpan.FromTicks(1));
        Assert.Empty(_connection.Failures);
        Tick(session, TimeSpan.FromTicks(1));
        Tick(session, s_interval);
        Tick(session, s_interval);

        var (status, reason) = Assert.Single(_connection.Failures);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Contains("heart-beat", reason, StringComparison.Ordinal);
        Assert.Equal(["post:Text:ping", "fail:PolicyViolation"], _connection.Calls);
    }

    [Fact]
    public async Task OnTick_TimeoutLongerThanInterval_DeadlineCountsFromTheFirstUnansweredPing()
    {
        var interval = TimeSpan.FromSeconds(10);
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = interval, Timeout = TimeSpan.FromSeconds(25), Text = "ping", Expect = "pong" }));

        Tick(session, interval);                   // t=10: first ping, answer due at 35
        Tick(session, interval);                   // t=20: second ping
        Tick(session, interval);                   // t=30: third ping
        Assert.Empty(_connection.Failures);
        Tick(session, TimeSpan.FromSeconds(5));    // t=35

        Assert.Equal(3, _connection.Posts.Count);
        Assert.Single(_connection.Failures);
    }

    [Fact]
    public async Task OnMessage_AnswerAfterSeveralPings_NextDeadlineCountsFromTheNextPing()
    {
        var interval = TimeSpan.FromSeconds(10);
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = interval, Timeout = TimeSpan.FromSeconds(25), Text = "ping", Expect = "pong" }));
        Tick(session, interval);                   // t=10
        Tick(session, interval);                   // t=20
        Receive(session, "pong");

        Tick(session, interval);                   // t=30: ping, answer due at 55
        Tick(session, TimeSpan.FromSeconds(24));   // t=54
        Assert.Empty(_connection.Failures);
        Tick(session, TimeSpan.FromSeconds(1));    // t=55

        Assert.Single(_connection.Failures);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("ping")]
    public async Task OnMessage_NoExpectation_AnyMessageIsDeliveredAndKeepsTheConnectionAlive(string? ping)
    {
        var interval = TimeSpan.FromSeconds(10);
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = interval, Timeout = TimeSpan.FromSeconds(5), Text = ping }));
        Tick(session, interval);                   // t=10: awaiting a message

        var decision = Receive(session, "anything", FrameKind.Binary);
        Tick(session, TimeSpan.FromSeconds(6));    // t=16

        Assert.Equal(ReceiveDecision.Deliver, decision);
        Assert.Empty(_connection.Failures);
        Assert.Equal(ping is null ? 0 : 1, _connection.Posts.Count);
    }

    [Fact]
    public async Task OnTick_PassiveModeWithoutMessages_FailsAfterIntervalPlusTimeoutWithoutPosting()
    {
        var interval = TimeSpan.FromSeconds(10);
        var session = await StartedAsync(Options(new HeartbeatOptions { Interval = interval, Timeout = TimeSpan.FromSeconds(5) }));

        Tick(session, interval);
        Tick(session, TimeSpan.FromSeconds(5));

        Assert.Empty(_connection.Posts);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, Assert.Single(_connection.Failures).Status);
    }

    [Theory]
    [InlineData(FrameKind.Text, 0)]
    [InlineData(FrameKind.Text, 5)]
    [InlineData(FrameKind.Binary, 300)]
    public async Task OnMessage_NoHeartbeat_EveryMessageDeliveredWholeWithoutCompletion(FrameKind kind, int length)
    {
        var session = await StartedAsync(Options());

        var decision = session.OnMessage(new byte[length], kind, out var frame);

        Assert.Equal(ReceiveDecision.Deliver, decision);
        Assert.Equal(new InboundFrame(0, length, 0), frame);
    }

    [Fact]
    public async Task OnTick_NoHeartbeat_NeverPostsNorFails()
    {
        var session = await StartedAsync(Options());

        Tick(session, TimeSpan.FromHours(1));
        Tick(session, TimeSpan.FromHours(1));

        Assert.Empty(_connection.Calls);
    }

    [Theory]
    [InlineData(FrameKind.Text)]
    [InlineData(FrameKind.Binary)]
    public void Encode_AnyPayload_PassedThroughWithoutReplyKey(FrameKind kind)
    {
        var session = new RawSession(_connection, Options(PingPong()), _time);
        var payload = new byte[] { 1, 2, 3, 4 };
        var scratch = new ArrayBufferWriter<byte>();

        var wire = session.Encode(new OutboundPart(payload, kind, []), scratch, out var wireKind, out var replyKey);

        Assert.True(MemoryMarshal.TryGetArray(wire, out var segment));
        Assert.Same(payload, segment.Array);
        Assert.Equal(payload.Length, wire.Length);
        Assert.Equal((kind, 0L), (wireKind, replyKey));
        Assert.Equal(0, scratch.WrittenCount);
    }
}
