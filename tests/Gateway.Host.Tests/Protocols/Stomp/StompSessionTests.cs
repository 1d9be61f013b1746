using Gateway.Host.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Protocols;
using Gateway.Host.Protocols.Stomp;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Protocols.Stomp;

public sealed class StompSessionTests
{
    private readonly RecordingProtocolConnection _connection = new();
    private readonly FakeTimeProvider _time = new();

    private StompSession Create(Action<StompOptions>? configure = null)
    {
        var options = new SocketOptions { Url = new Uri("ws://127.0.0.1/ws"), Protocol = SocketProtocol.Stomp };
        options.Queue.Capacity = 64;
        options.Stomp.Login = "guest";
        options.Stomp.Passcode = "secret";
        options.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/a", Ack = StompAck.ClientIndividual });
        options.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/b", Id = "b", Ack = StompAck.Client, Headers = { ["x-priority"] = "5" } });
        options.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/topic/c", Ack = StompAck.Auto });
        options.Stomp.DefaultDestination = "/queue/out";
        configure?.Invoke(options.Stomp);
        return new StompSession(_connection, options, _time, NullLogger.Instance);
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static string Message(string subscription, string ack, string body, string extra = "")
        => $"MESSAGE\nsubscription:{subscription}\ndestination:/queue/x\nmessage-id:m-{ack}\nack:{ack}\n{extra}content-length:{Encoding.UTF8.GetByteCount(body)}\n\n{body}\0";

    [Fact]
    public async Task StartAsync_Connect_OffersVersionHostCredentialsAndHeartBeat()
    {
        var session = Create();

        await session.StartAsync(CancellationToken.None);

        Assert.Equal("ready:False", _connection.Calls[0]);
        Assert.Equal("control:Text:CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:secret\nheart-beat:10000,10000\n\n\0", _connection.Calls[1]);
    }

    [Fact]
    public async Task OnMessage_Connected_SubscribesEachWithPrefetchThenReady()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);

        Assert.Equal(ReceiveDecision.Consumed, session.OnMessage(Bytes("CONNECTED\nversion:1.2\nheart-beat:2000,2000\n\n\0"), FrameKind.Text, out _));

        Assert.Equal(
            [
                "post:Text:SUBSCRIBE\nid:sub-0\ndestination:/queue/a\nack:client-individual\nprefetch-count:64\n\n\0",
                "post:Text:SUBSCRIBE\nid:b\ndestination:/queue/b\nack:client\nprefetch-count:64\nx-priority:5\n\n\0",
                "post:Text:SUBSCRIBE\nid:sub-2\ndestination:/topic/c\nack:auto\n\n\0",
                "ready:True",
            ],
            _connection.Calls.Skip(2));
    }

    [Fact]
    public async Task OnMessage_TwoMessagesInOneWebSocketMessage_BothDeliveredWithHeadersAndBody()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        var message = Bytes(Message("sub-0", "1", "hello") + "\n" + Message("sub-2", "2", "wörld"));

        Assert.Equal(ReceiveDecision.Deliver, session.OnMessage(message, FrameKind.Text, out var first));
        Assert.True(session.TryNextFrame(message, out var second));
        Assert.False(session.TryNextFrame(message, out _));

        Assert.Equal("hello", Encoding.UTF8.GetString(message, first.Offset, first.Length));
        Assert.Equal("wörld", Encoding.UTF8.GetString(message, second.Offset, second.Length));
        var headers = new FrameHeaders(message.AsMemory(first.HeadersOffset, first.HeadersLength));
        Assert.Equal("/queue/x", headers["destination"]);
        Assert.Equal("m-1", headers["message-id"]);
        Assert.NotEqual(0, first.CompletionToken); // client-individual
        Assert.Equal(0, second.CompletionToken); // auto: nothing to acknowledge
    }

    [Fact]
    public async Task Complete_ClientIndividual_AckWhenHandledNackWhenFailedOrDroppedNothingWhenLost()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        var tokens = new[] { "1", "2", "3", "4" }.Select(ack =>
        {
            session.OnMessage(Bytes(Message("sub-0", ack, "x")), FrameKind.Text, out var frame);
            return frame.CompletionToken;
        }).ToArray();
        _connection.Calls.Clear();

        session.Complete(tokens[1], FrameOutcome.HandlerFailed);
        session.Complete(tokens[0], FrameOutcome.Handled);
        session.Complete(tokens[2], FrameOutcome.Dropped);
        session.Complete(tokens[3], FrameOutcome.Lost);

        Assert.Equal(["post:Text:NACK\nid:2\n\n\0", "post:Text:ACK\nid:1\n\n\0", "post:Text:NACK\nid:3\n\n\0"], _connection.Calls);
    }

    [Fact]
    public async Task Complete_ClientCumulative_AckOnlyUpToTheNewestWhosePredecessorsAreHandled()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        var tokens = new[] { "1", "2", "3", "4", "5" }.Select(ack =>
        {
            session.OnMessage(Bytes(Message("b", ack, "x")), FrameKind.Text, out var frame);
            return frame.CompletionToken;
        }).ToArray();
        _connection.Calls.Clear();

        session.Complete(tokens[1], FrameOutcome.Handled); // 1 still open: nothing yet
        Assert.Empty(_connection.Calls);
        session.Complete(tokens[0], FrameOutcome.Handled); // 1 and 2: one cumulative ACK of 2
        Assert.Equal(["post:Text:ACK\nid:2\n\n\0"], _connection.Calls);
        session.Complete(tokens[3], FrameOutcome.Handled);
        session.Complete(tokens[2], FrameOutcome.HandlerFailed); // 3 failed: NACK it alone, then ACK 4
        Assert.Equal(["post:Text:ACK\nid:2\n\n\0", "post:Text:NACK\nid:3\n\n\0", "post:Text:ACK\nid:4\n\n\0"], _connection.Calls);
    }

    [Fact]
    public async Task OnMessage_Error_FailsTheConnectionWithTheServersMessage()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);

        Assert.Equal(ReceiveDecision.Close, session.OnMessage(Bytes("ERROR\nmessage:Access refused for user 'guest'\ncontent-length:3\n\nbad\0"), FrameKind.Text, out _));

        Assert.Equal((WebSocketCloseStatus.PolicyViolation, "STOMP ERROR from the server: Access refused for user 'guest'"), Assert.Single(_connection.Failures));
    }

    [Fact]
    public async Task OnMessage_MalformedFrame_FailsWith1002NamingTheProblem()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);

        Assert.Equal(ReceiveDecision.Close, session.OnMessage(Bytes("MESSAGE\nfoo\n\n\0"), FrameKind.Text, out _));

        Assert.Equal((WebSocketCloseStatus.ProtocolError, "malformed STOMP frame: header line without ':' ('foo')"), Assert.Single(_connection.Failures));
    }

    [Fact]
    public async Task OnTick_NegotiatedHeartBeats_SentInTimeAndSilenceBeyondTwicePeriodFails()
    {
        var session = Create(s => s.HeartBeat = new StompHeartBeatOptions { Outgoing = TimeSpan.FromSeconds(1), Incoming = TimeSpan.FromSeconds(1) });
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\nheart-beat:2000,500\n\n\0"), FrameKind.Text, out _);
        _connection.Calls.Clear();

        // We send every max(1000, 500) = 1 s (beats at half that), expect every max(2000, 1000) = 2 s.
        _time.Advance(TimeSpan.FromMilliseconds(600));
        session.OnTick(_time.GetTimestamp());
        Assert.Equal(["post:Text:\n"], _connection.Calls);

        session.OnMessage(Bytes("\n"), FrameKind.Text, out _); // the server's beat
        _time.Advance(TimeSpan.FromSeconds(3.9));
        session.OnTick(_time.GetTimestamp());
        Assert.Empty(_connection.Failures);
        _time.Advance(TimeSpan.FromSeconds(0.2));
        session.OnTick(_time.GetTimestamp());
        Assert.Equal((WebSocketCloseStatus.PolicyViolation, "no STOMP heart-beat from the server within 4 s"), Assert.Single(_connection.Failures));
    }

    [Fact]
    public async Task OnTick_SubscriptionSilentForStaleAfter_UnsubscribedAndSubscribedAgainCountedInHealth()
    {
        _connection.SubscriptionList.AddRange([new("sub-0", "/queue/a"), new("b", "/queue/b"), new("sub-2", "/topic/c")]);
        var session = Create(s => s.Subscriptions[0].StaleAfter = TimeSpan.FromSeconds(5));
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        _connection.Calls.Clear();

        _time.Advance(TimeSpan.FromSeconds(4));
        session.OnMessage(Bytes(Message("sub-0", "1", "x")), FrameKind.Text, out _); // life: the clock starts over
        _time.Advance(TimeSpan.FromSeconds(4.9));
        session.OnTick(_time.GetTimestamp());
        Assert.Empty(_connection.Calls);

        _time.Advance(TimeSpan.FromSeconds(0.2));
        session.OnTick(_time.GetTimestamp());

        Assert.Equal(["post:Text:UNSUBSCRIBE\nid:sub-0\n\n\0", "post:Text:SUBSCRIBE\nid:sub-0\ndestination:/queue/a\nack:client-individual\nprefetch-count:64\n\n\0"], _connection.Calls);
        var health = _connection.SubscriptionList[0].Snapshot();
        Assert.Equal(("Subscribed", 1L, 1L), (health.State, health.MessagesReceived, health.Resubscribes));
        Assert.Equal(0, _connection.SubscriptionList[1].Snapshot().Resubscribes); // no StaleAfter: never

        session.Dispose();
        Assert.Equal("Pending", _connection.SubscriptionList[0].Snapshot().State);
    }

    [Fact]
    public async Task OnSubscriptionsChanged_Connected_UnsubscribesGoneAndChangedSubscribesNewLeavesTheRest()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        _connection.Calls.Clear();
        var next = new SocketOptions { Url = new Uri("ws://127.0.0.1/ws"), Protocol = SocketProtocol.Stomp };
        next.Queue.Capacity = 64;
        next.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/a", Ack = StompAck.ClientIndividual }); // sub-0 unchanged
        next.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/b", Id = "b", Ack = StompAck.ClientIndividual }); // b: ack changed
        next.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/d", Id = "d", Ack = StompAck.Auto }); // d new; sub-2 gone

        session.OnSubscriptionsChanged(next);

        Assert.Equal(
            [
                "post:Text:UNSUBSCRIBE\nid:b\n\n\0",
                "post:Text:UNSUBSCRIBE\nid:sub-2\n\n\0",
                "post:Text:SUBSCRIBE\nid:b\ndestination:/queue/b\nack:client-individual\nprefetch-count:64\n\n\0",
                "post:Text:SUBSCRIBE\nid:d\ndestination:/queue/d\nack:auto\n\n\0",
            ],
            _connection.Calls);

        // A message of the new subscription is acknowledged as it now says; one of the removed is not.
        session.OnMessage(Bytes(Message("b", "7", "x")), FrameKind.Text, out var ofB);
        session.OnMessage(Bytes(Message("sub-2", "8", "y")), FrameKind.Text, out var ofGone);
        Assert.NotEqual(0, ofB.CompletionToken);
        Assert.Equal(0, ofGone.CompletionToken);
    }

    [Fact]
    public async Task Encode_Send_ToDefaultDestinationWithReceiptConfirmedByReceipt()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        var scratch = new System.Buffers.ArrayBufferWriter<byte>();

        var bytes = session.Encode(Part("{\"a\":1}"), scratch, out var wireKind, out var replyKey);
        session.OnMessage(Bytes($"RECEIPT\nreceipt-id:{replyKey}\n\n\0"), FrameKind.Text, out _);

        Assert.Equal(FrameKind.Text, wireKind);
        Assert.Equal($"SEND\ndestination:/queue/out\ncontent-type:text/plain\nreceipt:{replyKey}\ncontent-length:7\n\n{{\"a\":1}}\0", Encoding.UTF8.GetString(bytes.Span));
        Assert.Equal((replyKey, SendStatus.Confirmed), (_connection.Replies.Single().ReplyKey, _connection.Replies.Single().Status));
    }

    private static OutboundPart Part(string text, params (string Name, string Value)[] headers)
        => new(Encoding.UTF8.GetBytes(text), FrameKind.Text, [.. headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value))]);

    [Fact]
    public async Task Encode_HeadersGiven_DestinationAndContentTypeFromThemOthersEscaped()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        var scratch = new System.Buffers.ArrayBufferWriter<byte>();

        var bytes = session.Encode(Part("x", ("destination", "/topic/a"), ("content-type", "application/json"), ("note", "a:b\nc")), scratch, out _, out var replyKey);

        Assert.Equal($"SEND\ndestination:/topic/a\ncontent-type:application/json\nnote:a\\cb\\nc\nreceipt:{replyKey}\ncontent-length:1\n\nx\0", Encoding.UTF8.GetString(bytes.Span));
    }

    [Fact]
    public async Task BeginEncodeCommit_Batch_OneTransactionConfirmedByTheCommitReceiptOnly()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        var scratch = new System.Buffers.ArrayBufferWriter<byte>();
        string Next(ReadOnlyMemory<byte> written)
        {
            var text = Encoding.UTF8.GetString(written.Span);
            scratch.ResetWrittenCount();
            return text;
        }

        var begin = Next(session.BeginBatch(scratch));
        var transaction = begin.Split('\n')[1]["transaction:".Length..];
        var first = Next(session.Encode(Part("1"), scratch, out _, out var firstKey));
        var second = Next(session.Encode(Part("2", ("destination", "/queue/b")), scratch, out _, out var secondKey));
        var commit = Next(session.CommitBatch(scratch, out var commitKey));
        var after = Next(session.Encode(Part("3"), scratch, out _, out var afterKey));

        Assert.StartsWith("gateway-tx-", transaction, StringComparison.Ordinal);
        Assert.Equal($"BEGIN\ntransaction:{transaction}\n\n\0", begin);
        Assert.Equal($"SEND\ndestination:/queue/out\ncontent-type:text/plain\ntransaction:{transaction}\ncontent-length:1\n\n1\0", first);
        Assert.Equal($"SEND\ndestination:/queue/b\ncontent-type:text/plain\ntransaction:{transaction}\ncontent-length:1\n\n2\0", second);
        Assert.Equal((0L, 0L), (firstKey, secondKey));
        Assert.Equal($"COMMIT\ntransaction:{transaction}\nreceipt:{commitKey}\n\n\0", commit);
        Assert.NotEqual(0, commitKey);
        Assert.Contains($"receipt:{afterKey}", after, StringComparison.Ordinal);
        Assert.DoesNotContain("transaction", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AbortBatch_OpenBatch_AbortsItOnceAndLaterSendsLeaveIt()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        var scratch = new System.Buffers.ArrayBufferWriter<byte>();
        var begin = Encoding.UTF8.GetString(session.BeginBatch(scratch).Span);
        scratch.ResetWrittenCount();
        var transaction = begin.Split('\n')[1]["transaction:".Length..];

        var abort = Encoding.UTF8.GetString(session.AbortBatch(scratch).Span);
        scratch.ResetWrittenCount();

        Assert.Equal($"ABORT\ntransaction:{transaction}\n\n\0", abort);
        Assert.True(session.AbortBatch(scratch).IsEmpty);
        Assert.DoesNotContain("transaction", Encoding.UTF8.GetString(session.Encode(Part("x"), scratch, out _, out _).Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnMessage_ErrorAboutAReceiptedSend_RefusesThatSendWithTheErrorAsReply()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.Encode(Part("x"), new System.Buffers.ArrayBufferWriter<byte>(), out _, out var replyKey);

        session.OnMessage(Bytes($"ERROR\nmessage:not_found\nreceipt-id:{replyKey}\n\nno exchange 'x'\0"), FrameKind.Text, out _);

        var reply = _connection.Replies.Single();
        Assert.Equal((replyKey, SendStatus.Refused), (reply.ReplyKey, reply.Status));
        Assert.Equal("not_found\nno exchange 'x'", Encoding.UTF8.GetString(reply.Reply));
    }
    [Fact]
    public async Task OnMessage_MessageCarryingTheReceiptHeaderOfASend_NotTakenForItsReceipt()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        session.Encode(Part("x"), new System.Buffers.ArrayBufferWriter<byte>(), out _, out var replyKey);

        // A broker may copy a SEND's headers, receipt included, onto the MESSAGE it delivers: a message, not a receipt.
        var message = Bytes(Message("sub-2", "1", "x", $"receipt:{replyKey}\nreceipt-id:{replyKey}\n"));
        var decision = session.OnMessage(message, FrameKind.Text, out var frame);

        Assert.Equal(ReceiveDecision.Deliver, decision);
        Assert.Equal("x", Encoding.UTF8.GetString(message, frame.Offset, frame.Length));
        Assert.Empty(_connection.Replies);
        session.OnMessage(Bytes($"RECEIPT\nreceipt-id:{replyKey}\n\n\0"), FrameKind.Text, out _);
        Assert.Equal((replyKey, SendStatus.Confirmed), (_connection.Replies.Single().ReplyKey, _connection.Replies.Single().Status));
    }

    [Fact]
    public async Task GoodbyeAsync_Connected_DisconnectWithAReceiptAndDoneWhenTheReceiptArrives()
    {
        var session = Create();
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes("CONNECTED\nversion:1.2\n\n\0"), FrameKind.Text, out _);
        _connection.Calls.Clear();

        var goodbye = session.GoodbyeAsync(CancellationToken.None).AsTask();

        Assert.Equal(["control:Text:DISCONNECT\nreceipt:gateway-disconnect\n\n\0"], _connection.Calls);
        Assert.False(goodbye.IsCompleted);
        session.OnMessage(Bytes("RECEIPT\nreceipt-id:gateway-disconnect\n\n\0"), FrameKind.Text, out _);
        await goodbye.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Empty(_connection.Replies); // the goodbye's receipt confirms no send
    }

    [Theory]
    [InlineData("0,0", 1000, 1000, false, false)]   // the server wants none: neither way
    [InlineData("2000,0", 1000, 1000, false, true)] // sy = 0: we send none; sx > 0: we expect beats
    [InlineData("0,500", 1000, 1000, true, false)]  // sx = 0: we expect none
    [InlineData("2000,500", 0, 1000, false, true)]  // cx = 0: we send none
    [InlineData("2000,500", 1000, 0, true, false)]  // cy = 0: we expect none
    public async Task OnTick_HeartBeatZeroOnEitherSide_ThatDirectionIsOff(string server, int outgoingMs, int incomingMs, bool sends, bool expects)
    {
        var session = Create(s => s.HeartBeat = new StompHeartBeatOptions { Outgoing = TimeSpan.FromMilliseconds(outgoingMs), Incoming = TimeSpan.FromMilliseconds(incomingMs) });
        await session.StartAsync(CancellationToken.None);
        session.OnMessage(Bytes($"CONNECTED\nversion:1.2\nheart-beat:{server}\n\n\0"), FrameKind.Text, out _);
        _connection.Calls.Clear();

        // 10 s is far beyond every period in play (twice the longest included).
        _time.Advance(TimeSpan.FromSeconds(10));
        session.OnMessage(Bytes("\n"), FrameKind.Text, out _); // the server just beat: only our side is due
        session.OnTick(_time.GetTimestamp());
        Assert.Equal(sends, _connection.Calls.Contains("post:Text:\n"));

        _time.Advance(TimeSpan.FromSeconds(10)); // and now 10 s of silence from the server
        session.OnTick(_time.GetTimestamp());
        Assert.Equal(expects, _connection.Failures.Count == 1);
    }
}
