using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Protocols.Phoenix;

/// <summary>The gateway's Phoenix Channels client against the kit's <see cref="PhoenixServer"/> on Kestrel.</summary>
public sealed class PhoenixTests
{
    private const string Key = "test-key";

    private static TestConfig Phoenix(PhoenixServer server, string[] topics, params (string Key, string? Value)[] more)
    {
        var settings = new List<(string, string?)>
        {
            ("Protocol", "Phoenix"),
            ("Phoenix:RejoinAfter:0", "00:00:00.200"),
            ("Phoenix:RejoinAfter:1", "00:00:00.400"),
            ("Reconnect:MinDelay", "00:00:00.100"),
        };
        for (var i = 0; i < topics.Length; i++)
        {
            settings.Add(($"Phoenix:Topics:{i}:Topic", topics[i]));
        }

        settings.AddRange(more);
        return new TestConfig().Set("Gateway:Api:Key", Key).Socket("p", server.Url(), [.. settings]);
    }

    private static async Task<PhoenixServer> StartServerAsync(Func<string, JsonElement, JoinDecision>? authorizer = null)
    {
        var server = new PhoenixServer { Topics = ["room:*"], PresenceOnJoin = false };
        if (authorizer is not null)
        {
            server.Authorizer = authorizer;
        }

        await server.StartAsync();
        return server;
    }

    private static async Task ReadyAsync(GatewayTestHost gateway)
        => await Eventually.TrueAsync(() => gateway.Status("p").State == SocketState.Ready, "every topic joined");

    private static string Header(RecordedFrame frame, string name) => frame.Headers.First(h => h.Key == name).Value;

    [Fact]
    public async Task Join_TwoTopics_BothJoinedAndBroadcastsReachHandlersWithTopicAndEvent()
    {
        await using var server = await StartServerAsync((topic, payload) => JoinDecision.Ok($$"""{"topic":"{{topic}}"}"""));
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a", "room:b"],
            ("Phoenix:Topics:1:Payload", """{"since":42}"""), ("Phoenix:Params:token", "t o k"), ("Phoenix:AuthToken", "s3cret")));
        await ReadyAsync(gateway);

        await server.BroadcastAsync("room:a", "new_msg", """{"body":"hello"}""");
        await server.BroadcastAsync("room:b", "price", """[1,2]""");
        await server.BroadcastAsync("room:other", "ignored", "{}");

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 2, "both broadcasts delivered");
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal(["""{"body":"hello"}""", "[1,2]"], frames.Select(f => f.Text));
        Assert.Equal(("room:a", "new_msg"), (Header(frames[0], "topic"), Header(frames[0], "event")));
        Assert.Equal(("room:b", "price"), (Header(frames[1], "topic"), Header(frames[1], "event")));
        var connection = Assert.Single(server.Connections);
        Assert.Equal(("t o k", "s3cret", 2), (connection.Params["token"], connection.AuthToken, connection.SerializerVersion));
        var joins = connection.Received.Where(m => m.Event == "phx_join").ToList();
        Assert.Equal(["room:a", "room:b"], joins.Select(j => j.Topic));
        Assert.Equal(42, joins[1].Payload.GetProperty("since").GetInt32());
        Assert.All(joins, j => Assert.Equal(j.JoinRef, j.Ref));
        var topics = gateway.Status("p").Subscriptions!;
        Assert.Equal(["Joined", "Joined"], topics.Select(t => t.State));
        Assert.Equal(1, topics[0].MessagesReceived);
    }

    [Fact]
    public async Task Join_Refused_RetriedOnTheScheduleShownInHealthThenJoined()
    {
        var refusals = 0;
        await using var server = await StartServerAsync((topic, _) => topic == "room:locked" && Interlocked.Increment(ref refusals) <= 2 ? JoinDecision.Unauthorized : JoinDecision.Ok());
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:open", "room:locked"]));

        // The topic's state and the socket's detail are two updates: wait for both.
        await Eventually.TrueAsync(
            () => gateway.Status("p") is { Subscriptions: [_, { State: "Rejoining" }] } s && s.StateDetail?.Contains("join refused", StringComparison.Ordinal) == true,
            "the refusal shows");
        var status = gateway.Status("p");
        Assert.Equal(SocketState.Handshaking, status.State);
        Assert.Contains("'room:locked' (join refused: error {\"reason\":\"unauthorized\"})", status.StateDetail, StringComparison.Ordinal);
        Assert.Equal("Joined", status.Subscriptions![0].State);
        Assert.Contains("unauthorized", status.Subscriptions[1].LastError, StringComparison.Ordinal);
        Assert.NotNull(status.Subscriptions[1].NextAttemptAt);

        await ReadyAsync(gateway);
        Assert.Equal(3, server.JoinsReceived("room:locked"));
        Assert.Equal(1, server.ConnectionCount); // rejoined on the same connection
        Assert.Contains(gateway.Logs.GetSnapshot(), r => r.Id.Id == 701 && r.Message.Contains("room:locked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Push_WithReplyErrorAndNone_ConfirmedRefusedAndNoReplyAlsoOverHttp()
    {
        await using var server = await StartServerAsync();
        server.PushHandler = (topic, @event, payload) => @event switch
        {
            "ping" => PushDecision.Ok($$"""{"pong":{{payload.GetProperty("n").GetInt32()}}}"""),
            "bad" => PushDecision.Error("""{"reason":"nope"}"""),
            _ => PushDecision.NoReply,
        };
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"], ("ReplyTimeout", "00:00:00.500")));
        await ReadyAsync(gateway);

        var ok = await gateway.Sender.SendAndWaitAsync("p", OutboundMessage.Text("""{"n":7}""").WithHeader("topic", "room:a").WithHeader("event", "ping"));
        var refused = await gateway.Sender.SendAndWaitAsync("p", OutboundMessage.Text("{}").WithHeader("topic", "room:a").WithHeader("event", "bad"));
        var silent = await gateway.Sender.SendAndWaitAsync("p", OutboundMessage.Text("{}").WithHeader("topic", "room:a").WithHeader("event", "void"));
        var invalid = await gateway.Sender.SendAsync("p", OutboundMessage.Text("{}").WithHeader("topic", "room:zzz").WithHeader("event", "x"));
        var notJson = await gateway.Sender.SendAsync("p", OutboundMessage.Text("not json").WithHeader("topic", "room:a").WithHeader("event", "x"));

        Assert.Equal((SendStatus.Confirmed, """{"pong":7}"""), (ok.Status, Encoding.UTF8.GetString(ok.Reply.Span)));
        Assert.Equal((SendStatus.Refused, """{"reason":"nope"}"""), (refused.Status, Encoding.UTF8.GetString(refused.Reply.Span)));
        Assert.Equal(SendStatus.NoReply, silent.Status);
        Assert.Equal((SendStatus.Invalid, "topic 'room:zzz' is not one of the socket's Phoenix:Topics"), (invalid.Status, invalid.Error));
        Assert.Equal(SendStatus.Invalid, notJson.Status);
        var pushes = server.LastConnection!.Received.Where(m => m.Event == "ping").ToList();
        Assert.Equal(server.LastConnection.JoinRef("room:a"), Assert.Single(pushes).JoinRef);

        gateway.Http.DefaultRequestHeaders.Add("X-Api-Key", Key);
        using var response = await gateway.Http.PostAsync("/sockets/p/messages?wait=true&topic=room:a&event=ping", new StringContent("""{"n":9}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(("Confirmed", """{"pong":9}"""), (body.GetProperty("status").GetString(), body.GetProperty("reply").GetString()));
        Assert.Empty(gateway.Recorder.Frames); // replies go to the sender, not to the handlers
    }

    [Fact]
    public async Task Heartbeat_AnsweredKeepsTheConnectionUnansweredReconnects()
    {
        await using var server = await StartServerAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"], ("Phoenix:HeartbeatInterval", "00:00:00.200")));
        await ReadyAsync(gateway);

        // The server closes a connection silent for 1 s (as Phoenix does after 60 s): the heartbeats keep it open.
        server.IdleTimeout = TimeSpan.FromSeconds(1);
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        // 200 ms apart at best (the shared watchdog ticks every 250 ms, later on a loaded machine): what
        // matters is that they flow and the connection outlived two idle timeouts.
        Assert.True(server.HeartbeatsReceived >= 5, $"heartbeats flow ({server.HeartbeatsReceived})");
        Assert.Equal(1, server.ConnectionCount);
        server.IdleTimeout = null;

        server.AnswerHeartbeats = false;
        await Eventually.TrueAsync(() => server.ConnectionCount == 2, "an unanswered heartbeat ends the connection");
        Assert.Equal("heartbeat_timeout", gateway.Status("p").LastDisconnectReason);
        server.AnswerHeartbeats = true;
        await ReadyAsync(gateway);
    }

    [Fact]
    public async Task PhxErrorAndStaleJoinRef_ChannelRejoinedAndOldJoinsMessagesDropped()
    {
        await using var server = await StartServerAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"]));
        await ReadyAsync(gateway);
        var firstJoin = server.LastConnection!.JoinRef("room:a");

        await server.CrashChannelAsync("room:a");
        await Eventually.TrueAsync(() => server.JoinsReceived("room:a") == 2 && server.LastConnection.IsJoined("room:a"), "rejoined after phx_error");
        await ReadyAsync(gateway);
        await server.SendRawAsync($$"""["{{firstJoin}}",null,"room:a","stale",{"old":true}]""");
        await server.SendRawAsync($$"""["{{server.LastConnection.JoinRef("room:a")}}",null,"room:a","fresh",{"new":true}]""");

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the current join's message delivered");
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal("fresh", Header(Assert.Single(gateway.Recorder.Frames), "event"));
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public async Task ReloadTopics_AddedAndRemoved_JoinedAndLeftWithoutReconnecting()
    {
        await using var server = await StartServerAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a", "room:b"]));
        await ReadyAsync(gateway);

        var diff = await gateway.ReloadAsync(Phoenix(server, ["room:b", "room:c"]));

        Assert.Equal(["p"], diff!.SubscriptionsChanged);
        await Eventually.TrueAsync(() => server.LastConnection!.IsJoined("room:c") && !server.LastConnection.IsJoined("room:a"), "c joined, a left");
        await ReadyAsync(gateway);
        Assert.Equal(1, server.JoinsReceived("room:b"));
        Assert.Contains(server.LastConnection!.Received, m => m.Event == "phx_leave" && m.Topic == "room:a");
        Assert.Equal(["room:b", "room:c"], gateway.Status("p").Subscriptions!.Select(s => s.Destination));
        Assert.Equal((1, 0), (server.ConnectionCount, gateway.Status("p").Reconnects));
    }

    [Fact]
    public async Task ServerRestart_EveryTopicRejoinedOnItsOwn()
    {
        await using var server = await StartServerAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a", "room:b"]));
        await ReadyAsync(gateway);

        await server.RestartAsync();

        await Eventually.TrueAsync(() => server.LastConnection is { Number: > 1 } c && c.IsJoined("room:a") && c.IsJoined("room:b"), "both topics rejoined on a new connection");
        await ReadyAsync(gateway);
        await server.BroadcastAsync("room:b", "after", "{}");
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => Header(f, "event") == "after"), "the new connection delivers");
    }

    [Fact]
    public async Task BinaryAndPresence_BinaryBroadcastAndPushAndPresenceEventsReachTheirEnds()
    {
        await using var server = new PhoenixServer { Topics = ["room:*"], PresenceOnJoin = true };
        await server.StartAsync();
        byte[]? pushed = null;
        server.BinaryPushHandler = (_, _, payload) =>
        {
            pushed = payload.ToArray();
            return PushDecision.Ok();
        };
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"]));
        await ReadyAsync(gateway);

        await server.TrackAsync("room:a", "ann", """{"device":"phone"}""");
        await server.BroadcastBinaryAsync("room:a", "blob", [0, 1, 2, 255]);
        var push = await gateway.Sender.SendAndWaitAsync("p", OutboundMessage.Binary(new byte[] { 9, 8, 7 }).WithHeader("topic", "room:a").WithHeader("event", "upload"));

        Assert.Equal(SendStatus.Confirmed, push.Status);
        Assert.Equal([9, 8, 7], pushed);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 3, "presence_state, presence_diff and the blob");
        var frames = gateway.Recorder.Frames.ToList();
        Assert.Equal(["presence_state", "presence_diff", "blob"], frames.Select(f => Header(f, "event")));
        Assert.Equal(FrameKind.Binary, frames[2].Kind);
        Assert.Equal([0, 1, 2, 255], frames[2].Payload);
        Assert.Contains("ann", frames[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Presence_StateThenDiffs_ReadableOverTheApi()
    {
        await using var server = new PhoenixServer { Topics = ["room:*"], PresenceOnJoin = true };
        await server.StartAsync();
        await server.TrackAsync("room:a", "ann", """{"device":"phone"}""");
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"]));
        await ReadyAsync(gateway);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => Header(f, "event") == "presence_state"), "the state arrived");

        await server.TrackAsync("room:a", "bob", "{}");
        await server.UntrackAsync("room:a", "ann");
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count(f => Header(f, "event") == "presence_diff") == 2, "both diffs arrived");

        using var response = await gateway.Http.GetAsync("/sockets/p/topics/room:a/presence", TestContext.Current.CancellationToken);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(body.GetProperty("synced").GetBoolean());
        Assert.Equal(["bob"], body.GetProperty("presences").EnumerateObject().Select(p => p.Name));
        Assert.NotEmpty(body.GetProperty("presences").GetProperty("bob").GetProperty("metas")[0].GetProperty("phx_ref").GetString()!);
        using var unknown = await gateway.Http.GetAsync("/sockets/p/topics/room:zzz/presence", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Push_WhileItsTopicRejoins_HeldThenSentWithTheNewJoinRef()
    {
        var refuse = 0;
        await using var server = await StartServerAsync((_, _) => Volatile.Read(ref refuse) == 1 ? JoinDecision.Unauthorized : JoinDecision.Ok());
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"], ("Outbound:SendTimeout", "00:00:00.100")));
        await ReadyAsync(gateway);
        var firstJoin = server.LastConnection!.JoinRef("room:a");

        Volatile.Write(ref refuse, 1);
        await server.CrashChannelAsync("room:a");
        await Eventually.TrueAsync(() => gateway.Status("p").State == SocketState.Handshaking, "the topic is rejoining");
        var held = await gateway.Sender.SendAsync("p", OutboundMessage.Text("""{"n":1}""").WithHeader("topic", "room:a").WithHeader("event", "ping"));
        Assert.Equal(SendStatus.Queued, held.Status);
        Assert.DoesNotContain(server.LastConnection.Received, m => m.Event == "ping");
        Volatile.Write(ref refuse, 0);

        await Eventually.TrueAsync(() => server.LastConnection.Received.Any(m => m.Event == "ping"), "sent once joined again");
        var ping = server.LastConnection.Received.Single(m => m.Event == "ping");
        Assert.NotEqual(firstJoin, ping.JoinRef);
        Assert.Equal(server.LastConnection.JoinRef("room:a"), ping.JoinRef);
        Assert.Equal(1, server.ConnectionCount);
    }

    [Fact]
    public async Task SerializerV1_JoinBroadcastAndPush_ObjectForm()
    {
        await using var server = await StartServerAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"], ("Phoenix:Serializer", "V1")));
        await ReadyAsync(gateway);

        await server.BroadcastAsync("room:a", "hello", """{"v":1}""");
        var push = await gateway.Sender.SendAndWaitAsync("p", OutboundMessage.Text("{}").WithHeader("topic", "room:a").WithHeader("event", "ping"));

        Assert.Equal(1, server.LastConnection!.SerializerVersion);
        Assert.Equal(SendStatus.Confirmed, push.Status);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the broadcast delivered");
        Assert.Equal(("hello", """{"v":1}"""), (Header(gateway.Recorder.Frames.Single(), "event"), gateway.Recorder.Frames.Single().Text));
    }

    [Fact]
    public async Task Malformed_ServerSendsGarbage_ConnectionClosedWith1002CountedAndRejoined()
    {
        await using var server = await StartServerAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Phoenix(server, ["room:a"]));
        await ReadyAsync(gateway);

        await server.SendRawAsync("""["1",null,"room:a"]""");

        await Eventually.TrueAsync(() => server.ConnectionCount == 2 && server.LastConnection!.IsJoined("room:a"), "reconnected and rejoined");
        var status = gateway.Status("p");
        Assert.Equal("protocol_error", status.LastDisconnectReason);
        Assert.Contains("malformed Phoenix message", status.LastDisconnect, StringComparison.Ordinal);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.ProtocolError, server.Connections.First().ClientCloseStatus);
    }
}
