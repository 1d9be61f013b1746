using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Protocols.Phoenix;

/// <summary>
/// The test kit's <see cref="PhoenixServer"/> against a plain <see cref="ClientWebSocket"/> writing the wire
/// format by hand, so the kit is checked before it checks the gateway's Phoenix client.
/// </summary>
public sealed class PhoenixServerTests
{
    private static readonly TimeSpan s_receiveTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Join_AuthorizedRefusedAndUnmatched_RepliesLikePhoenix()
    {
        await using var server = new PhoenixServer
        {
            Topics = ["room:*"],
            Authorizer = (topic, payload) => topic == "room:secret"
                ? JoinDecision.Unauthorized
                : JoinDecision.Ok($$"""{"hello":"{{payload.GetProperty("user").GetString()}}"}"""),
            PresenceOnJoin = false,
        };
        await server.StartAsync();

        // phoenix.js: btoa(token) without "=", offered after "phoenix".
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("phoenix");
        ws.Options.AddSubProtocol("base64url.bearer.phx." + Convert.ToBase64String("s3cret?"u8.ToArray()).TrimEnd('='));
        await ws.ConnectAsync(server.Url("vsn=2.0.0&tenant=acme"), CancellationToken.None);
        Assert.Equal("phoenix", ws.SubProtocol);

        await SendAsync(ws, """["1","1","room:lobby","phx_join",{"user":"ann"}]""");
        AssertJson("""["1","1","room:lobby","phx_reply",{"status":"ok","response":{"hello":"ann"}}]""", await ReceiveAsync(ws));

        await SendAsync(ws, """["2","2","room:secret","phx_join",{"user":"bob"}]""");
        AssertJson("""["2","2","room:secret","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]""", await ReceiveAsync(ws));

        // No route for the topic: the reply carries a null join_ref.
        await SendAsync(ws, """["3","3","lobby","phx_join",{}]""");
        AssertJson("""[null,"3","lobby","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]""", await ReceiveAsync(ws));

        var connection = Assert.Single(server.Connections);
        Assert.Equal("s3cret?", connection.AuthToken);
        Assert.Equal("acme", connection.Params["tenant"]);
        Assert.Equal(2, connection.SerializerVersion);
        Assert.Equal(["room:lobby"], connection.JoinedTopics);
        Assert.Equal("1", connection.JoinRef("room:lobby"));
        Assert.Equal(1, server.JoinsReceived("room:secret"));
        Assert.Equal(1, server.Subscribers("room:lobby"));
        Assert.Equal(["phx_join", "phx_join", "phx_join"], connection.Received.Select(m => m.Event));
    }

    [Fact]
    public async Task Heartbeat_PhoenixTopic_RepliedWithRefUntilSwitchedOff()
    {
        await using var server = new PhoenixServer();
        await server.StartAsync();
        using var ws = await ConnectAsync(server);

        await SendAsync(ws, """[null,"7","phoenix","heartbeat",{}]""");
        AssertJson("""[null,"7","phoenix","phx_reply",{"status":"ok","response":{}}]""", await ReceiveAsync(ws));

        server.AnswerHeartbeats = false;
        await SendAsync(ws, """[null,"8","phoenix","heartbeat",{}]""");
        await Eventually.TrueAsync(() => server.HeartbeatsReceived == 2, "the second heartbeat was recorded");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReceiveAsync(ws, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Broadcast_JoinedTopic_ArrivesWithNullRefsOnlyOnSubscribers()
    {
        await using var server = new PhoenixServer { PresenceOnJoin = false };
        await server.StartAsync();
        using var joined = await ConnectAsync(server);
        using var other = await ConnectAsync(server);
        await SendAsync(joined, """["1","1","room:1","phx_join",{}]""");
        await ReceiveAsync(joined);
        await SendAsync(other, """["1","1","room:2","phx_join",{}]""");
        await ReceiveAsync(other);

        Assert.Equal(1, await server.BroadcastAsync("room:1", "new_msg", """{"body":"hé \"x\""}"""));
        AssertJson("""[null,null,"room:1","new_msg",{"body":"hé \"x\""}]""", await ReceiveAsync(joined));

        // A channel push carries the channel's join_ref and a null ref.
        await server.PushAsync(server.Connections.First(), "room:1", "notice", """{"n":1}""");
        AssertJson("""["1",null,"room:1","notice",{"n":1}]""", await ReceiveAsync(joined));
        Assert.Equal(0, await server.BroadcastAsync("room:3", "new_msg", "{}"));
    }

    [Fact]
    public async Task Push_JoinedAndNotJoinedTopics_ReplyOrUnmatchedTopicError()
    {
        await using var server = new PhoenixServer
        {
            PresenceOnJoin = false,
            PushHandler = (_, @event, payload) => @event == "echo" ? PushDecision.Ok(payload.GetRawText()) : PushDecision.Error("""{"reason":"nope"}"""),
        };
        await server.StartAsync();
        using var ws = await ConnectAsync(server);
        await SendAsync(ws, """["1","1","room:1","phx_join",{}]""");
        await ReceiveAsync(ws);

        await SendAsync(ws, """["1","2","room:1","echo",{"a":[1,2]}]""");
        AssertJson("""["1","2","room:1","phx_reply",{"status":"ok","response":{"a":[1,2]}}]""", await ReceiveAsync(ws));
        await SendAsync(ws, """["1","3","room:1","other",{}]""");
        AssertJson("""["1","3","room:1","phx_reply",{"status":"error","response":{"reason":"nope"}}]""", await ReceiveAsync(ws));

        // Not joined: Phoenix answers a phx_reply error, not a phx_error.
        await SendAsync(ws, """["9","4","room:2","echo",{}]""");
        AssertJson("""[null,"4","room:2","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]""", await ReceiveAsync(ws));

        // Leave: ok reply, then phx_close with the join_ref in both ref fields.
        await SendAsync(ws, """["1","5","room:1","phx_leave",{}]""");
        AssertJson("""["1","5","room:1","phx_reply",{"status":"ok","response":{}}]""", await ReceiveAsync(ws));
        AssertJson("""["1","1","room:1","phx_close",{}]""", await ReceiveAsync(ws));
        Assert.Empty(server.LastConnection!.JoinedTopics);
    }

    [Fact]
    public async Task BinaryFrames_PushReplyAndBroadcast_LaidOutAsSerializerJs()
    {
        await using var server = new PhoenixServer
        {
            PresenceOnJoin = false,
            BinaryPushHandler = (_, _, payload) => PushDecision.BinaryReply("ok", [.. payload.Span, 9]),
        };
        await server.StartAsync();
        using var ws = await ConnectAsync(server);
        await SendAsync(ws, """["1","1","room:1","phx_join",{}]""");
        await ReceiveAsync(ws);

        // Client push, kind 0: [0][jr][ref][topic][event] sizes, the fields, the payload.
        await ws.SendAsync(Frame(0, [1, 2, 3], "1", "2", "room:1", "ping"), WebSocketMessageType.Binary, true, CancellationToken.None);
        var reply = await ReceiveAsync(ws);
        Assert.Equal(WebSocketMessageType.Binary, reply.Type);
        Assert.Equal(Frame(1, [1, 2, 3, 9], "1", "2", "room:1", "ok"), reply.Data);
        var push = server.LastConnection!.Received.Last();
        Assert.Equal(("1", "2", "room:1", "ping"), (push.JoinRef, push.Ref, push.Topic, push.Event));
        Assert.Equal([1, 2, 3], push.BinaryPayload!.Value.ToArray());

        Assert.Equal(1, await server.BroadcastBinaryAsync("room:1", "blob", [0xFF, 0]));
        var broadcast = await ReceiveAsync(ws);
        Assert.Equal(WebSocketMessageType.Binary, broadcast.Type);
        Assert.Equal(Frame(2, [0xFF, 0], "room:1", "blob"), broadcast.Data);
    }

    [Fact]
    public async Task Join_TopicWithPresences_PresenceStateAfterReplyThenDiffs()
    {
        await using var server = new PhoenixServer();
        await server.StartAsync();
        var annRef = await server.TrackAsync("room:1", "ann", """{"online_at":1}""");
        using var ws = await ConnectAsync(server);

        await SendAsync(ws, """["5","5","room:1","phx_join",{}]""");
        AssertJson("""["5","5","room:1","phx_reply",{"status":"ok","response":{}}]""", await ReceiveAsync(ws));
        AssertJson($$$"""["5",null,"room:1","presence_state",{"ann":{"metas":[{"online_at":1,"phx_ref":"{{{annRef}}}"}]}}]""", await ReceiveAsync(ws));

        var bobRef = await server.TrackAsync("room:1", "bob", """{"online_at":2}""");
        AssertJson($$$"""[null,null,"room:1","presence_diff",{"joins":{"bob":{"metas":[{"online_at":2,"phx_ref":"{{{bobRef}}}"}]}},"leaves":{}}]""", await ReceiveAsync(ws));
        Assert.Equal(1, await server.UntrackAsync("room:1", "ann"));
        AssertJson($$$$"""[null,null,"room:1","presence_diff",{"joins":{},"leaves":{"ann":{"metas":[{"online_at":1,"phx_ref":"{{{{annRef}}}}"}]}}}]""", await ReceiveAsync(ws));
    }

    private static async Task<ClientWebSocket> ConnectAsync(PhoenixServer server)
    {
        var ws = new ClientWebSocket();
        await ws.ConnectAsync(server.Url("vsn=2.0.0"), CancellationToken.None);
        return ws;
    }

    private static Task SendAsync(ClientWebSocket ws, string text) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAsync(ClientWebSocket ws, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? s_receiveTimeout);
        using var message = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer, cancel.Token);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    private static void AssertJson(string expected, (WebSocketMessageType Type, byte[] Data) actual)
    {
        var text = Encoding.UTF8.GetString(actual.Data);
        Assert.True(actual.Type == WebSocketMessageType.Text, $"Expected a text frame, got {actual.Type}: {Convert.ToHexString(actual.Data)} {text}");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(text)), $"Expected {expected}\nActual   {text}");
    }

    // A V2 binary frame written from serializer.js's layout: kind, one size byte per field, fields, payload.
    private static byte[] Frame(byte kind, byte[] payload, params string[] fields)
    {
        var encoded = fields.Select(Encoding.UTF8.GetBytes).ToArray();
        return [kind, .. encoded.Select(f => (byte)f.Length), .. encoded.SelectMany(f => f), .. payload];
    }
}
