using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing;

/// <summary>
/// One accepted socket on a <see cref="PhoenixServer"/>: plays Phoenix's socket process and its
/// channels, and records everything the client sent.
/// </summary>
/// <remarks>
/// One lock orders everything the connection sends and guards its channel table, so a join reply
/// always goes out before any broadcast, push or presence message for that join, as in Phoenix (where
/// the socket process sends the reply before it reads the pushes queued in its mailbox).
/// </remarks>
public sealed class PhoenixConnection
{
    private const string JoinCrashed = """{"reason":"join crashed"}""";

    private readonly PhoenixServer _server;
    private readonly WebSocket _socket;
    private readonly HttpContext _context;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ConcurrentDictionary<string, PhoenixChannel> _channels = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _heartbeats;
    private long _lastReceived;
    private long? _closeSentAt;

    internal PhoenixConnection(PhoenixServer server, WebSocket socket, HttpContext context, PhoenixConnectRequest request, int serializerVersion, int number)
    {
        _server = server;
        _socket = socket;
        _context = context;
        Request = request;
        SerializerVersion = serializerVersion;
        Number = number;
    }

    /// <summary>1 for the first connection the server accepted (across restarts), and so on.</summary>
    public int Number { get; }

    public PhoenixConnectRequest Request { get; }

    /// <summary>The connect params (the query, <c>vsn</c> included).</summary>
    public IReadOnlyDictionary<string, string> Params => Request.Params;

    /// <summary>The token the client passed in the <c>base64url.bearer.phx.</c> subprotocol, if any.</summary>
    public string? AuthToken => Request.AuthToken;

    /// <summary>The subprotocol the server accepted ("phoenix"), or null.</summary>
    public string? SubProtocol => _socket.SubProtocol;

    /// <summary>1 (V1 JSON objects) or 2 (V2 JSON arrays and binary frames), from the <c>vsn</c> param.</summary>
    public int SerializerVersion { get; }

    /// <summary>Every decoded message the client sent, in arrival order (heartbeats included).</summary>
    public ConcurrentQueue<PhoenixMessage> Received { get; } = new();

    /// <summary>Every data frame the client sent, as it was on the wire, in order.</summary>
    public ConcurrentQueue<(WebSocketMessageType Type, byte[] Data)> RawReceived { get; } = new();

    /// <summary>Why a message could not be decoded; the connection was then dropped, as Phoenix's socket process crashes.</summary>
    public Exception? DecodeFailure { get; private set; }

    /// <summary>Heartbeats received on this connection, answered or not.</summary>
    public int HeartbeatsReceived => Volatile.Read(ref _heartbeats);

    /// <summary>The topics currently joined.</summary>
    public IReadOnlyCollection<string> JoinedTopics => _channels.Keys.ToArray();

    /// <summary>The close code the client sent, once it did.</summary>
    public WebSocketCloseStatus? ClientCloseStatus { get; private set; }

    /// <summary>The close code the server sent, on its own (idle timeout, drain, <see cref="CloseAsync"/>) or in answer to the client's, once it did.</summary>
    public WebSocketCloseStatus? ServerCloseStatus { get; private set; }

    /// <summary>Completes when the connection ended, however it ended.</summary>
    public Task Closed => _closed.Task;

    public bool IsOpen => !_closed.Task.IsCompleted;

    public bool IsJoined(string topic) => _channels.ContainsKey(topic);

    /// <summary>The join_ref of the current join of <paramref name="topic"/> (as a string), or null when not joined.</summary>
    public string? JoinRef(string topic) =>
        _channels.TryGetValue(topic, out var channel) ? NullableRefText(channel.JoinRefJson) : null;

    /// <summary>Sends a text frame as is (malformed or stale messages included).</summary>
    public Task SendRawAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    /// <summary>Sends a binary frame as is.</summary>
    public Task SendRawAsync(byte[] data) => SendAsync(data, WebSocketMessageType.Binary);

    /// <summary>Starts the close handshake; the receive loop completes it.</summary>
    public async Task CloseAsync(WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure, string description = "")
    {
        await _lock.WaitAsync();
        try
        {
            await CloseOutputLockedAsync(status, description);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Drops the TCP connection with no close frame.</summary>
    public void Abort()
    {
        if (!_closed.Task.IsCompleted)
        {
            try
            {
                _context.Abort();
            }
            catch (ObjectDisposedException)
            {
                // The request already ended.
            }
        }
    }

    internal bool IsOwnedBy(PhoenixServer server) => ReferenceEquals(_server, server);

    internal async Task SendAsync(byte[] data, WebSocketMessageType type)
    {
        await _lock.WaitAsync();
        try
        {
            await SendLockedAsync(data, type);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Sends to a joined channel only; false when <paramref name="topic"/> is not joined.</summary>
    internal async Task<bool> SendToChannelAsync(string topic, Func<PhoenixChannel, (byte[] Data, WebSocketMessageType Type)?> message)
    {
        await _lock.WaitAsync();
        try
        {
            if (!_channels.TryGetValue(topic, out var channel) || message(channel) is not { } frame)
            {
                return false;
            }

            return await SendLockedAsync(frame.Data, frame.Type);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Removes the channel and tells the client with <paramref name="event"/> (<c>phx_error</c> or <c>phx_close</c>).</summary>
    internal async Task<bool> EndChannelAsync(string topic, string @event, string payloadJson)
    {
        await _lock.WaitAsync();
        try
        {
            if (!_channels.TryRemove(topic, out var channel))
            {
                return false;
            }

            await SendEndLockedAsync(channel, @event, payloadJson);
            return true;
        }
        finally
        {
            _lock.Release();
        }
    }

    internal async Task RunAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        _lastReceived = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                var receive = _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).AsTask();
                await WatchIdleAsync(receive);
                var result = await receive;
                _lastReceived = Stopwatch.GetTimestamp();
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ClientCloseStatus = _socket.CloseStatus;
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await CloseAsync(WebSocketCloseStatus.NormalClosure);
                    }

                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var data = message.ToArray();
                message.SetLength(0);

                // Once the server sent its close frame, Bandit reads no more data.
                if (_closeSentAt is not null)
                {
                    continue;
                }

                RawReceived.Enqueue((result.MessageType, data));
                PhoenixMessage decoded;
                try
                {
                    decoded = PhoenixWire.Decode(data, result.MessageType == WebSocketMessageType.Binary, SerializerVersion);
                }
                catch (FormatException ex)
                {
                    // Phoenix's decode! raises in the socket process: the connection dies without a close frame.
                    DecodeFailure = ex;
                    Abort();
                    break;
                }

                Received.Enqueue(decoded);
                await HandleAsync(decoded);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            _channels.Clear();
            _closed.TrySetResult();
        }
    }

    private async Task WatchIdleAsync(Task receive)
    {
        // Polled, so a test may change IdleTimeout while the connection is open.
        while (!receive.IsCompleted)
        {
            var wait = TimeSpan.FromMilliseconds(200);
            if (_closeSentAt is { } closeSentAt)
            {
                // A client that never answers our close frame is dropped.
                if (Stopwatch.GetElapsedTime(closeSentAt) > TimeSpan.FromSeconds(5))
                {
                    Abort();
                    return;
                }
            }
            else if (_server.IdleTimeout is { } idleTimeout)
            {
                var remaining = idleTimeout - Stopwatch.GetElapsedTime(_lastReceived);
                if (remaining <= TimeSpan.Zero)
                {
                    // Phoenix's websocket :timeout (60 s by default) is the adapter's read timeout; Bandit then
                    // closes with 1002. Only data frames count here: the client's pings and pongs are answered
                    // inside ManagedWebSocket and never reach this loop (Bandit counts them too).
                    await CloseAsync(WebSocketCloseStatus.ProtocolError);
                    continue;
                }

                wait = remaining < wait ? remaining : wait;
            }

            using var cancel = new CancellationTokenSource();
            await Task.WhenAny(receive, Task.Delay(wait, cancel.Token));
            await cancel.CancelAsync();
        }
    }

    private async Task HandleAsync(PhoenixMessage message)
    {
        // Phoenix.Socket handle_in/4: the heartbeat clause comes first and matches whatever the channel state.
        if (message is { Topic: "phoenix", Event: "heartbeat" })
        {
            Interlocked.Increment(ref _heartbeats);
            if (_server.AnswerHeartbeats)
            {
                await SendReplyAsync(PhoenixWire.Null, message.RefJson, "phoenix", "ok", "{}");
            }

            return;
        }

        _channels.TryGetValue(message.Topic, out var channel);
        switch (message.Event)
        {
            case "phx_join":
                await JoinAsync(message, channel);
                break;
            case "phx_leave" when channel is null:
                // Leaving a topic that is not joined: a plain ok with the leave's own refs, and no phx_close.
                await SendReplyAsync(message.JoinRefJson, message.RefJson, message.Topic, "ok", "{}");
                break;
            case "phx_leave":
                await LeaveAsync(message, channel);
                break;
            case var _ when channel is null:
                // A push for a topic this socket has not joined (never joined, left, closed or crashed):
                // Phoenix does NOT send phx_error; it answers like an unmatched join, with a phx_reply
                // {"status":"error","response":{"reason":"unmatched topic"}} carrying the push's ref and a null join_ref.
                await SendUnmatchedAsync(message);
                break;
            default:
                await PushAsync(message, channel);
                break;
        }
    }

    private async Task JoinAsync(PhoenixMessage message, PhoenixChannel? existing)
    {
        // A second join of a joined topic: Phoenix shuts the old channel down first, queues its phx_close
        // (old join_ref) in the socket's mailbox, then runs the new join. So the client sees the new join's
        // reply first and the old channel's phx_close after it; whatever the new join's outcome, the old
        // channel is gone.
        if (existing is not null)
        {
            _channels.TryRemove(message.Topic, out _);
        }

        // Stays null for an unmatched topic.
        string? status = null;
        var response = "{}";
        if (!_server.MatchesTopic(message.Topic))
        {
            // Answered below with Phoenix's "unmatched topic" reply.
        }
        else if (_channels.Count >= _server.MaxChannelsPerConnection)
        {
            status = "error";
            response = """{"reason":"too many channels joined"}""";
        }
        else
        {
            try
            {
                var decision = _server.Authorizer(message.Topic, message.Payload);
                if (decision.Status is null)
                {
                    // A join that never returns (in Phoenix that would also stall the whole socket).
                    if (existing is not null)
                    {
                        await CloseReplacedAsync(existing);
                    }

                    return;
                }

                status = decision.Status;
                response = decision.ResponseJson;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The channel's join/3 raised: Phoenix answers {"reason":"join crashed"}.
                status = "error";
                response = JoinCrashed;
            }
        }

        await _lock.WaitAsync();
        try
        {
            PhoenixChannel? channel = null;
            if (status is null)
            {
                await SendUnmatchedLockedAsync(message);
            }
            else
            {
                if (status == "ok")
                {
                    var channelJoinRef = message.JoinRefJson == PhoenixWire.Null ? message.RefJson : message.JoinRefJson;
                    channel = new PhoenixChannel(message.Topic, message.JoinRefJson, channelJoinRef);
                    _channels[message.Topic] = channel;
                }

                // The socket's join reply carries the join message's own join_ref (not join_ref || ref).
                await SendLockedAsync(Text(message.JoinRefJson, message.RefJson, message.Topic, "phx_reply", PhoenixWire.ReplyPayload(status, response)), WebSocketMessageType.Text);
            }

            if (existing is not null)
            {
                await SendEndLockedAsync(existing, "phx_close", "{}");
            }

            // A presence-enabled channel pushes presence_state from its after_join, i.e. after the reply.
            if (channel is not null && _server.PresenceOnJoin)
            {
                await SendLockedAsync(Text(channel.ChannelJoinRefJson, PhoenixWire.Null, channel.Topic, "presence_state", _server.PresenceStateJson(channel.Topic)), WebSocketMessageType.Text);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task CloseReplacedAsync(PhoenixChannel existing)
    {
        await _lock.WaitAsync();
        try
        {
            await SendEndLockedAsync(existing, "phx_close", "{}");
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task LeaveAsync(PhoenixMessage message, PhoenixChannel channel)
    {
        // Phoenix 1.7: the leave reaches the channel when its join_ref is the channel's (or the channel has
        // none, a V1 client); otherwise the client raced a server close and nothing is sent.
        // Phoenix >= 1.8.3 (StrictJoinRefs) also accepts a leave with a null join_ref.
        var matches = message.JoinRefJson == channel.JoinRefJson
            || channel.JoinRefJson == PhoenixWire.Null
            || (_server.StrictJoinRefs && message.JoinRefJson == PhoenixWire.Null);
        if (!matches)
        {
            return;
        }

        await _lock.WaitAsync();
        try
        {
            if (!_channels.TryRemove(new KeyValuePair<string, PhoenixChannel>(channel.Topic, channel)))
            {
                return;
            }

            // The channel replies ok (its join_ref, the leave's ref), stops with {:shutdown, :left}, and the
            // socket then sends phx_close with the join_ref it stored at join time.
            await SendLockedAsync(Text(channel.ChannelJoinRefJson, message.RefJson, channel.Topic, "phx_reply", PhoenixWire.ReplyPayload("ok", "{}")), WebSocketMessageType.Text);
            await SendEndLockedAsync(channel, "phx_close", "{}");
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task PushAsync(PhoenixMessage message, PhoenixChannel channel)
    {
        // Phoenix 1.7 hands every message for a joined topic to the channel, whatever its join_ref.
        // Phoenix >= 1.8.3 (StrictJoinRefs) silently drops one whose join_ref is neither null nor the channel's.
        if (_server.StrictJoinRefs && message.JoinRefJson != PhoenixWire.Null && message.JoinRefJson != channel.JoinRefJson)
        {
            return;
        }

        PushDecision decision;
        try
        {
            decision = message.BinaryPayload is { } binary
                ? _server.BinaryPushHandler(message.Topic, message.Event, binary)
                : _server.PushHandler(message.Topic, message.Event, message.Payload);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // handle_in/3 raised: the channel process dies and the socket sends phx_error.
            await EndChannelAsync(channel.Topic, "phx_error", _server.ChannelErrorPayload);
            return;
        }

        if (decision.Status is not { } status)
        {
            return;
        }

        if (decision.BinaryResponse is not null && SerializerVersion == 1)
        {
            // The V1 serializer cannot encode a binary reply: the channel crashes.
            await EndChannelAsync(channel.Topic, "phx_error", _server.ChannelErrorPayload);
            return;
        }

        await SendToChannelAsync(channel.Topic, current => !ReferenceEquals(current, channel)
            ? null
            : decision.BinaryResponse is { } bytes
                ? (PhoenixWire.BinaryReply(current.ChannelJoinRefJson, message.RefJson, current.Topic, status, bytes.Span), WebSocketMessageType.Binary)
                : (Text(current.ChannelJoinRefJson, message.RefJson, current.Topic, "phx_reply", PhoenixWire.ReplyPayload(status, decision.ResponseJson)), WebSocketMessageType.Text));
    }

    private async Task SendUnmatchedAsync(PhoenixMessage message)
    {
        await _lock.WaitAsync();
        try
        {
            await SendUnmatchedLockedAsync(message);
        }
        finally
        {
            _lock.Release();
        }
    }

    // Phoenix's encode_ignore: a Reply without join_ref.
    private Task<bool> SendUnmatchedLockedAsync(PhoenixMessage message) =>
        SendLockedAsync(Text(PhoenixWire.Null, message.RefJson, message.Topic, "phx_reply", PhoenixWire.ReplyPayload("error", """{"reason":"unmatched topic"}""")), WebSocketMessageType.Text);

    private async Task SendReplyAsync(string joinRefJson, string refJson, string topic, string status, string responseJson) =>
        await SendAsync(Text(joinRefJson, refJson, topic, "phx_reply", PhoenixWire.ReplyPayload(status, responseJson)), WebSocketMessageType.Text);

    // phx_close and phx_error come from the socket, which puts the join_ref it stored in both join_ref and ref.
    private Task<bool> SendEndLockedAsync(PhoenixChannel channel, string @event, string payloadJson) =>
        SendLockedAsync(Text(channel.JoinRefJson, channel.JoinRefJson, channel.Topic, @event, payloadJson), WebSocketMessageType.Text);

    internal byte[] Text(string joinRefJson, string refJson, string topic, string @event, string payloadJson) =>
        PhoenixWire.Message(SerializerVersion, joinRefJson, refJson, topic, @event, payloadJson);

    private async Task<bool> SendLockedAsync(byte[] data, WebSocketMessageType type)
    {
        if (_socket.State != WebSocketState.Open || _closeSentAt is not null)
        {
            return false;
        }

        try
        {
            await _socket.SendAsync(data, type, endOfMessage: true, CancellationToken.None);
            return true;
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private async Task CloseOutputLockedAsync(WebSocketCloseStatus status, string description)
    {
        if (_closeSentAt is not null || _socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        _closeSentAt = Stopwatch.GetTimestamp();
        ServerCloseStatus = status;
        try
        {
            await _socket.CloseOutputAsync(status, description, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
        }
    }

    private static string? NullableRefText(string refJson)
    {
        using var document = JsonDocument.Parse(refJson);
        return document.RootElement.ValueKind == JsonValueKind.Null ? null : PhoenixWire.RefText(refJson);
    }
}
