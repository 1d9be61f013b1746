using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.Testing;

/// <summary>
/// A Phoenix Channels server (as a client sees Phoenix 1.7 with Bandit) on 127.0.0.1 (Kestrel, port 0):
/// V1/V2 serializers, joins, leaves, heartbeats, pushes and replies, broadcasts, binary frames and
/// presence, written from the protocol description and independent of the gateway's client.
/// </summary>
/// <remarks>
/// Configure it with the settable members (they may also change while it runs), then
/// <see cref="StartAsync"/>. Callbacks (<see cref="Authorizer"/>, <see cref="PushHandler"/>, ...) run
/// on the connection's receive loop: they must not block on the server. Everything the clients send is
/// recorded on <see cref="Connections"/>.
/// </remarks>
public sealed partial class PhoenixServer : IAsyncDisposable
{
    // 1012 Service Restart: what a drained Phoenix socket closes with.
    private const WebSocketCloseStatus ServiceRestart = (WebSocketCloseStatus)1012;

    private readonly ConcurrentDictionary<int, PhoenixConnection> _open = new();
    private WebApplication? _app;
    private int _connectionCount;

    /// <summary>The WebSocket endpoint path.</summary>
    /// <value>The default is <c>/socket/websocket</c> (<c>socket "/socket", UserSocket</c> in an endpoint).</value>
    public string Path { get; init; } = "/socket/websocket";

    /// <summary>The channel routes: <c>"room:*"</c> matches topics starting with <c>room:</c>, anything else matches exactly.</summary>
    /// <value>The default is <c>["*"]</c>, every topic.</value>
    public IReadOnlyList<string> Topics { get; set; } = ["*"];

    /// <summary>The user socket's <c>connect/3</c>: false refuses the upgrade with 403, as <c>:error</c> does.</summary>
    public Func<PhoenixConnectRequest, bool>? ConnectCheck { get; set; }

    /// <summary>The channel's <c>join/3</c> for a matched topic: topic and join payload in, decision out.</summary>
    /// <value>The default joins every topic with an empty response.</value>
    public Func<string, JsonElement, JoinDecision> Authorizer { get; set; } = (_, _) => JoinDecision.Ok();

    /// <summary>The channel's <c>handle_in/3</c> for a JSON push: topic, event and payload in, reply out.</summary>
    /// <value>The default replies ok with an empty response.</value>
    public Func<string, string, JsonElement, PushDecision> PushHandler { get; set; } = (_, _, _) => PushDecision.Ok();

    /// <summary>The channel's <c>handle_in/3</c> for a binary (kind 0) push.</summary>
    /// <value>The default replies ok with an empty response.</value>
    public Func<string, string, ReadOnlyMemory<byte>, PushDecision> BinaryPushHandler { get; set; } = (_, _, _) => PushDecision.Ok();

    /// <summary>False stops answering heartbeats (they are still recorded), to test dead-peer detection.</summary>
    public bool AnswerHeartbeats { get; set; } = true;

    /// <summary>Closes (1002, as Bandit) a connection that sent no data frame for this long.</summary>
    /// <value>The default is null, never; Phoenix's default is 60 seconds.</value>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>Phoenix's <c>max_channels_per_transport</c>: a join beyond it gets <c>{"reason":"too many channels joined"}</c>.</summary>
    public int MaxChannelsPerConnection { get; set; } = 100;

    /// <summary>When true, joined channels push <c>presence_state</c> right after the join reply, as a presence-enabled channel's <c>after_join</c> does.</summary>
    public bool PresenceOnJoin { get; set; } = true;

    /// <summary>
    /// False (Phoenix 1.7): a push on a joined topic reaches the channel whatever its join_ref, and a
    /// leave needs the channel's join_ref. True (Phoenix 1.8.3 and later): a push with a stale join_ref
    /// is dropped silently, and a leave with a null join_ref is accepted.
    /// </summary>
    public bool StrictJoinRefs { get; set; }

    /// <summary>The payload of the <c>phx_error</c> for a crashed channel.</summary>
    /// <value>The default is <c>{}</c> (Phoenix 1.7); Phoenix 1.8 sends <c>{"reason":"channel_crash"}</c>.</value>
    public string ChannelErrorPayload { get; set; } = "{}";

    public int Port { get; private set; }

    /// <summary>Every accepted connection, in order, across restarts.</summary>
    public ConcurrentQueue<PhoenixConnection> Connections { get; } = new();

    /// <summary>Every handshake seen, accepted or refused, in order.</summary>
    public ConcurrentQueue<PhoenixConnectRequest> Handshakes { get; } = new();

    /// <summary>Connections accepted so far (across restarts).</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    public PhoenixConnection? LastConnection => Connections.LastOrDefault();

    /// <summary>The connections still open.</summary>
    public IReadOnlyList<PhoenixConnection> OpenConnections => _open.Values.OrderBy(c => c.Number).ToArray();

    /// <summary>Heartbeats received on all connections.</summary>
    public int HeartbeatsReceived => Connections.Sum(c => c.HeartbeatsReceived);

    /// <summary>Every message received, connection by connection.</summary>
    public IEnumerable<PhoenixMessage> Received => Connections.SelectMany(c => c.Received);

    public bool IsRunning => _app is not null;

    /// <summary>The endpoint URL, e.g. <c>ws://127.0.0.1:5123/socket/websocket?vsn=2.0.0</c>.</summary>
    public Uri Url(string? query = null) => new($"ws://127.0.0.1:{Port}{Path}{(string.IsNullOrEmpty(query) ? "" : "?" + query)}");

    /// <summary><c>phx_join</c> messages received for <paramref name="topic"/>, on all connections.</summary>
    public int JoinsReceived(string topic) => Received.Count(m => m.Event == "phx_join" && m.Topic == topic);

    /// <summary>Open connections that have <paramref name="topic"/> joined.</summary>
    public int Subscribers(string topic) => _open.Values.Count(c => c.IsJoined(topic));

    /// <summary>Starts listening: on a free port the first time, on the same port after <see cref="StopAsync"/>.</summary>
    public async Task StartAsync()
    {
        if (_app is not null)
        {
            throw new InvalidOperationException("The server is already running.");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port));
        var app = builder.Build();

        // Phoenix sends no WebSocket pings.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(HandleAsync);
        await app.StartAsync();
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    /// <summary>
    /// Stops the server. By default open connections are dropped with no close frame (a crash or a
    /// killed node); <paramref name="drain"/> closes each with 1012 first, as Phoenix's socket drainer
    /// does on a graceful shutdown. Presences tracked with <see cref="TrackAsync"/> are kept.
    /// </summary>
    public async Task StopAsync(bool drain = false)
    {
        if (_app is not { } app)
        {
            return;
        }

        _app = null;
        var open = _open.Values.ToArray();
        if (drain)
        {
            await Task.WhenAll(open.Select(c => c.CloseAsync(ServiceRestart)));
            await Task.WhenAny(Task.WhenAll(open.Select(c => c.Closed)), Task.Delay(TimeSpan.FromSeconds(2)));
        }

        foreach (var connection in open)
        {
            connection.Abort();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();
    }

    /// <summary>Stops, then starts again on the same port.</summary>
    public async Task RestartAsync(bool drain = false)
    {
        await StopAsync(drain);
        await StartAsync();
    }

    /// <summary>
    /// Broadcasts to every connection that has <paramref name="topic"/> joined, as
    /// <c>Endpoint.broadcast</c> does: <c>[null,null,topic,event,payload]</c> (V1: an object with a null
    /// ref). Returns how many got it.
    /// </summary>
    public Task<int> BroadcastAsync(string topic, string @event, string payloadJson) =>
        SendToSubscribersAsync(topic, c => (c.Text(PhoenixWire.Null, PhoenixWire.Null, topic, @event, payloadJson), WebSocketMessageType.Text));

    /// <summary>
    /// Broadcasts a binary (kind 2) frame. V1 connections are skipped: Phoenix's V1 serializer cannot
    /// encode it (the broadcaster raises).
    /// </summary>
    public Task<int> BroadcastBinaryAsync(string topic, string @event, byte[] payload)
    {
        var frame = PhoenixWire.BinaryBroadcast(topic, @event, payload);
        return SendToSubscribersAsync(topic, c => c.SerializerVersion == 2 ? (frame, WebSocketMessageType.Binary) : null);
    }

    /// <summary>
    /// A channel push (<c>push(socket, event, payload)</c>): <c>[join_ref, null, topic, event, payload]</c>
    /// with the channel's join_ref. Throws when <paramref name="connection"/> has not joined <paramref name="topic"/>.
    /// </summary>
    public async Task PushAsync(PhoenixConnection connection, string topic, string @event, string payloadJson)
    {
        CheckOwned(connection);
        if (!await connection.SendToChannelAsync(topic, ch => (connection.Text(ch.ChannelJoinRefJson, PhoenixWire.Null, topic, @event, payloadJson), WebSocketMessageType.Text)))
        {
            throw new InvalidOperationException($"Connection {connection.Number} has no open channel on {topic}.");
        }
    }

    /// <summary>A binary channel push (kind 0 without ref). V2 only.</summary>
    public async Task PushBinaryAsync(PhoenixConnection connection, string topic, string @event, byte[] payload)
    {
        CheckOwned(connection);
        if (connection.SerializerVersion != 2)
        {
            throw new InvalidOperationException("Binary pushes need the V2 serializer.");
        }

        if (!await connection.SendToChannelAsync(topic, ch => (PhoenixWire.BinaryPush(ch.ChannelJoinRefJson, topic, @event, payload), WebSocketMessageType.Binary)))
        {
            throw new InvalidOperationException($"Connection {connection.Number} has no open channel on {topic}.");
        }
    }

    /// <summary>
    /// Crashes the channel on <paramref name="topic"/> (every joined connection, or only
    /// <paramref name="connection"/>): <c>[join_ref, join_ref, topic, "phx_error", payload]</c>, and the
    /// channel is gone, so the client must rejoin. Returns how many channels crashed.
    /// </summary>
    public Task<int> CrashChannelAsync(string topic, PhoenixConnection? connection = null) =>
        EndChannelsAsync(topic, "phx_error", ChannelErrorPayload, connection);

    /// <summary>
    /// Closes the channel from the server (<c>{:stop, :normal, socket}</c>):
    /// <c>[join_ref, join_ref, topic, "phx_close", {}]</c>. Returns how many channels closed.
    /// </summary>
    public Task<int> CloseChannelAsync(string topic, PhoenixConnection? connection = null) =>
        EndChannelsAsync(topic, "phx_close", "{}", connection);

    /// <summary>Sends a text frame as is to <paramref name="connection"/>, or to every open connection.</summary>
    public Task SendRawAsync(string text, PhoenixConnection? connection = null) =>
        Task.WhenAll((connection is null ? OpenConnections : [connection]).Select(c => c.SendRawAsync(text)));

    /// <summary>Sends a binary frame as is to <paramref name="connection"/>, or to every open connection.</summary>
    public Task SendRawAsync(byte[] data, PhoenixConnection? connection = null) =>
        Task.WhenAll((connection is null ? OpenConnections : [connection]).Select(c => c.SendRawAsync(data)));

    public async ValueTask DisposeAsync() => await StopAsync();

    private void CheckOwned(PhoenixConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (!connection.IsOwnedBy(this))
        {
            throw new ArgumentException("The connection belongs to another server.", nameof(connection));
        }
    }

    internal bool MatchesTopic(string topic) =>
        Topics.Any(pattern => pattern.EndsWith('*')
            ? topic.StartsWith(pattern[..^1], StringComparison.Ordinal)
            : string.Equals(pattern, topic, StringComparison.Ordinal));

    private async Task<int> SendToSubscribersAsync(string topic, Func<PhoenixConnection, (byte[] Data, WebSocketMessageType Type)?> frame)
    {
        var sent = await Task.WhenAll(OpenConnections.Select(c => c.SendToChannelAsync(topic, _ => frame(c))));
        return sent.Count(s => s);
    }

    private async Task<int> EndChannelsAsync(string topic, string @event, string payloadJson, PhoenixConnection? only)
    {
        var targets = only is null ? OpenConnections : [only];
        var ended = await Task.WhenAll(targets.Select(c => c.EndChannelAsync(topic, @event, payloadJson)));
        return ended.Count(e => e);
    }

    private async Task RunConnectionAsync(PhoenixConnection connection)
    {
        _open[connection.Number] = connection;
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            _open.TryRemove(connection.Number, out _);
        }
    }
}
