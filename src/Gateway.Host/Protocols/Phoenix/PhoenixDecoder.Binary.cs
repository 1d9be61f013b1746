namespace Gateway.Host.Protocols.Phoenix;

/// <summary>The v2 binary frames a server sends: a kind byte, one size byte per header part, the parts, then the payload.</summary>
internal sealed partial class PhoenixDecoder
{
    private const byte PushKind = 0;
    private const byte ReplyKind = 1;
    private const byte BroadcastKind = 2;

    // push (server to client): [0][join_ref size][topic size][event size] join_ref topic event payload (no ref: the server pushes, nobody awaits it)
    // reply:                   [1][join_ref size][ref size][topic size][status size] join_ref ref topic status payload
    // broadcast:               [2][topic size][event size] topic event payload
    private static bool TryDecodeBinary(ReadOnlySpan<byte> message, out PhoenixMessage decoded, out string? error)
    {
        if (message.IsEmpty)
        {
            return Fail("empty binary message", out decoded, out error);
        }

        switch (message[0])
        {
            case PushKind:
                return TryDecodeBinaryPush(message, out decoded, out error);
            case ReplyKind:
                return TryDecodeBinaryReply(message, out decoded, out error);
            case BroadcastKind:
                return TryDecodeBinaryBroadcast(message, out decoded, out error);
            default:
                return Fail($"unknown binary message kind {message[0]}", out decoded, out error);
        }
    }

    private static bool TryDecodeBinaryPush(ReadOnlySpan<byte> message, out PhoenixMessage decoded, out string? error)
    {
        const int HeaderLength = 4;
        if (message.Length < HeaderLength)
        {
            return Fail("binary push truncated: the header needs 4 bytes", out decoded, out error);
        }

        var offset = HeaderLength;
        if (!TryTake(message, ref offset, message[1], "binary push truncated: join_ref runs past the end", out var joinRef, out error)
            || !TryTake(message, ref offset, message[2], "binary push truncated: topic runs past the end", out var topic, out error)
            || !TryTake(message, ref offset, message[3], "binary push truncated: event runs past the end", out var @event, out error)
            || !CheckTopicAndEvent(topic, @event, "binary push", out error))
        {
            decoded = default;
            return false;
        }

        decoded = new PhoenixMessage(ParseBinaryRef(joinRef), PhoenixMessage.NoRef, topic, @event, default, offset.., payloadIsBinary: true);
        return true;
    }

    private static bool TryDecodeBinaryReply(ReadOnlySpan<byte> message, out PhoenixMessage decoded, out string? error)
    {
        const int HeaderLength = 5;
        if (message.Length < HeaderLength)
        {
            return Fail("binary reply truncated: the header needs 5 bytes", out decoded, out error);
        }

        var offset = HeaderLength;
        if (!TryTake(message, ref offset, message[1], "binary reply truncated: join_ref runs past the end", out var joinRef, out error)
            || !TryTake(message, ref offset, message[2], "binary reply truncated: ref runs past the end", out var @ref, out error)
            || !TryTake(message, ref offset, message[3], "binary reply truncated: topic runs past the end", out var topic, out error)
            || !TryTake(message, ref offset, message[4], "binary reply truncated: status runs past the end", out var status, out error)
            || !CheckUtf8(topic, "topic", out error)
            || !CheckStatus(status, out error))
        {
            decoded = default;
            return false;
        }

        decoded = new PhoenixMessage(ParseBinaryRef(joinRef), ParseBinaryRef(@ref), topic, PhoenixEvents.ReplyUtf8, status, offset.., payloadIsBinary: true);
        return true;
    }

    private static bool TryDecodeBinaryBroadcast(ReadOnlySpan<byte> message, out PhoenixMessage decoded, out string? error)
    {
        const int HeaderLength = 3;
        if (message.Length < HeaderLength)
        {
            return Fail("binary broadcast truncated: the header needs 3 bytes", out decoded, out error);
        }

        var offset = HeaderLength;
        if (!TryTake(message, ref offset, message[1], "binary broadcast truncated: topic runs past the end", out var topic, out error)
            || !TryTake(message, ref offset, message[2], "binary broadcast truncated: event runs past the end", out var @event, out error)
            || !CheckTopicAndEvent(topic, @event, "binary broadcast", out error))
        {
            decoded = default;
            return false;
        }

        decoded = new PhoenixMessage(PhoenixMessage.NoRef, PhoenixMessage.NoRef, topic, @event, default, offset.., payloadIsBinary: true);
        return true;
    }

    private static bool TryTake(ReadOnlySpan<byte> message, scoped ref int offset, int size, string truncated, out ReadOnlySpan<byte> part, out string? error)
    {
        if (message.Length - offset < size)
        {
            part = default;
            error = truncated;
            return false;
        }

        part = message.Slice(offset, size);
        offset += size;
        error = null;
        return true;
    }

    private static bool CheckTopicAndEvent(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> @event, string kind, out string? error)
    {
        if (!CheckUtf8(topic, "topic", out error) || !CheckUtf8(@event, "event", out error))
        {
            return false;
        }

        // Only the reply kind carries a status: a phx_reply without one would look like a reply to the session.
        if (@event.SequenceEqual(PhoenixEvents.ReplyUtf8))
        {
            error = kind + " cannot carry phx_reply";
            return false;
        }

        return true;
    }

    private static bool CheckStatus(ReadOnlySpan<byte> status, out string? error)
    {
        if (status.IsEmpty)
        {
            error = "reply without status";
            return false;
        }

        return CheckUtf8(status, "reply status", out error);
    }

    // The server writes a null ref as the empty string.
    private static long ParseBinaryRef(ReadOnlySpan<byte> digits) => digits.IsEmpty ? PhoenixMessage.NoRef : ParseRef(digits);
}
