using System.Net.WebSockets;
using System.Text;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>What arrives: replies (joins, heartbeats, pushes), channel errors and closes, and what goes to the handlers.</summary>
internal sealed partial class PhoenixSession
{
    public ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
    {
        frame = default;
        if (_failed)
        {
            return ReceiveDecision.Consumed;
        }

        if (!_decoder.TryDecode(message, kind == FrameKind.Binary, out var decoded, out var error))
        {
            _failed = true;
            _connection.Fail(WebSocketCloseStatus.ProtocolError, $"malformed Phoenix message: {error}", DisconnectKind.ProtocolError);
            return ReceiveDecision.Close;
        }

        lock (_lock)
        {
            if (decoded.IsReply)
            {
                OnReply(decoded, message);
                return ReceiveDecision.Consumed;
            }

            var channel = Find(decoded.Topic);
            if (channel is null)
            {
                return ReceiveDecision.Consumed; // not a topic of ours (the socket's own "phoenix" included)
            }

            if (decoded.JoinRef != PhoenixMessage.NoRef && decoded.JoinRef != channel.JoinRef)
            {
                // From an earlier join of this topic (phoenix.js drops these too): e.g. the phx_close of a replaced join.
                Log.StaleMessage(_logger, _connection.SocketName, channel.Topic, Encoding.UTF8.GetString(decoded.Event));
                return ReceiveDecision.Consumed;
            }

            if (decoded.Event.SequenceEqual(PhoenixEvents.ErrorUtf8))
            {
                ScheduleRejoin(channel, "the channel crashed (phx_error)");
                return ReceiveDecision.Consumed;
            }

            if (decoded.Event.SequenceEqual(PhoenixEvents.CloseUtf8))
            {
                ScheduleRejoin(channel, "closed by the server (phx_close)");
                return ReceiveDecision.Consumed;
            }

            channel.Status?.AddMessage(_time.GetUtcNow());
            if (!decoded.PayloadIsBinary)
            {
                // Kept for the API, and still delivered to the handlers as events.
                if (decoded.Event.SequenceEqual(PhoenixEvents.PresenceStateUtf8))
                {
                    channel.Presence.OnState(message[decoded.Payload], channel.JoinRef);
                }
                else if (decoded.Event.SequenceEqual(PhoenixEvents.PresenceDiffUtf8))
                {
                    channel.Presence.OnDiff(message[decoded.Payload], channel.JoinRef);
                }
            }

            frame = ToFrame(message, channel, decoded);
            return ReceiveDecision.Deliver;
        }
    }

    private Channel? Find(ReadOnlySpan<byte> topic)
    {
        foreach (var channel in _channels)
        {
            if (topic.SequenceEqual(channel.TopicUtf8))
            {
                return channel;
            }
        }

        return null;
    }

    /// <summary>A <c>phx_reply</c>: to a heartbeat, to a join (joined, or refused and rejoined later), or to a user push.</summary>
    private void OnReply(in PhoenixMessage reply, ReadOnlySpan<byte> message)
    {
        var @ref = reply.Ref;
        if (@ref <= 0)
        {
            return;
        }

        if (@ref == _heartbeatRef)
        {
            _heartbeatRef = 0;
            return;
        }

        var ok = reply.Status.SequenceEqual(PhoenixEvents.StatusOkUtf8);
        foreach (var channel in _channels)
        {
            if (channel.PendingJoinRef != @ref)
            {
                continue;
            }

            if (ok)
            {
                channel.PendingJoinRef = -1;
                channel.JoinRef = @ref;
                channel.RejoinAttempt = 0;
                channel.Status?.SetState("Joined");
                Log.Joined(_logger, _connection.SocketName, channel.Topic, @ref);
                UpdateReadiness();
            }
            else
            {
                var response = message[reply.Payload];
                ScheduleRejoin(channel, $"join refused: {Encoding.UTF8.GetString(reply.Status)} {Encoding.UTF8.GetString(response.Length > 200 ? response[..200] : response)}".TrimEnd());
            }

            return;
        }

        _connection.CompleteReply(@ref, ok ? SendStatus.Confirmed : SendStatus.Refused, message[reply.Payload]);
    }

    /// <summary>The payload, with <c>topic</c> and <c>event</c> as the frame's headers, in a pool buffer.</summary>
    private InboundFrame ToFrame(ReadOnlySpan<byte> message, Channel channel, in PhoenixMessage decoded)
    {
        var payload = message[decoded.Payload];
        var @event = decoded.Event;
        var buffer = _connection.Pool.Rent(Math.Max(16 + (2 * (channel.TopicUtf8.Length + @event.Length)) + payload.Length, 1));
        var length = 0;
        length += Write("topic:"u8, buffer.AsSpan(length), escape: false);
        length += Write(channel.TopicUtf8, buffer.AsSpan(length), escape: true);
        length += Write("\nevent:"u8, buffer.AsSpan(length), escape: false);
        length += Write(@event, buffer.AsSpan(length), escape: true);
        buffer[length++] = (byte)'\n';
        payload.CopyTo(buffer.AsSpan(length));
        return new InboundFrame(length, payload.Length, 0, 0, length, buffer);
    }

    /// <summary>Copies, escaping as <see cref="FrameHeaders"/> reads them (<c>\n \r \c \\</c>: all ASCII, so byte-wise on UTF-8).</summary>
    private static int Write(ReadOnlySpan<byte> source, Span<byte> destination, bool escape)
    {
        if (!escape)
        {
            source.CopyTo(destination);
            return source.Length;
        }

        var written = 0;
        foreach (var b in source)
        {
            var escaped = b switch
            {
                (byte)'\n' => (byte)'n',
                (byte)'\r' => (byte)'r',
                (byte)':' => (byte)'c',
                (byte)'\\' => (byte)'\\',
                _ => (byte)0,
            };
            if (escaped == 0)
            {
                destination[written++] = b;
            }
            else
            {
                destination[written++] = (byte)'\\';
                destination[written++] = escaped;
            }
        }

        return written;
    }
}
