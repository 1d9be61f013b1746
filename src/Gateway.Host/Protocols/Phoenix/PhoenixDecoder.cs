using System.Text.Json;
using System.Text.Unicode;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>
/// Decodes what a Phoenix server sends to a phoenix.js client: v2 text (a JSON array) and binary
/// frames (push, reply, broadcast), or v1 text (a JSON object). Strings are unescaped only when they
/// had escapes, into a scratch buffer the decoder owns, so the common case allocates nothing.
/// Malformed input of any kind gives false and a short reason; nothing is thrown.
/// </summary>
/// <remarks>Not thread-safe: one receive loop owns it. A decoded message's spans are valid until the next call.</remarks>
internal sealed partial class PhoenixDecoder(PhoenixWireFormat format)
{
    // Twenty digits overflow a long; an escaped ref is at most six bytes a digit.
    private const int MaxRefDigits = 19;
    private const int MaxEscapedRefLength = MaxRefDigits * 6;

    private readonly PhoenixWireFormat _format = format;

    // Unescaped strings of the message being decoded; a larger one replaces it (spans into the old one stay valid).
    private byte[] _scratch = [];
    private int _scratchUsed;

    /// <summary>Decodes one WebSocket message.</summary>
    /// <param name="message">The whole message: Range offsets in <paramref name="decoded"/> are relative to it.</param>
    /// <param name="isBinary">The WebSocket message type was binary.</param>
    /// <param name="decoded">The message; default when false is returned.</param>
    /// <param name="error">Why the message is malformed; null when true is returned.</param>
    public bool TryDecode(ReadOnlySpan<byte> message, bool isBinary, out PhoenixMessage decoded, out string? error)
    {
        _scratchUsed = 0;
        if (isBinary)
        {
            if (_format == PhoenixWireFormat.V1)
            {
                return Fail("binary frames are not part of the v1 serializer", out decoded, out error);
            }

            return TryDecodeBinary(message, out decoded, out error);
        }

        if (message.Trim(" \t\r\n"u8).IsEmpty)
        {
            return Fail("empty message", out decoded, out error);
        }

        try
        {
            return _format == PhoenixWireFormat.V1 ? TryDecodeObject(message, out decoded, out error) : TryDecodeArray(message, out decoded, out error);
        }
        catch (JsonException ex)
        {
            return Fail("not valid JSON: " + ex.Message, out decoded, out error);
        }
    }

    private static bool Fail(string reason, out PhoenixMessage decoded, out string? error)
    {
        decoded = default;
        error = reason;
        return false;
    }

    /// <summary>A ref's digits: a plain non-negative integer, no sign, no leading zero, fitting a long; else <see cref="PhoenixMessage.UnknownRef"/>.</summary>
    private static long ParseRef(ReadOnlySpan<byte> digits)
    {
        if (digits.IsEmpty || digits.Length > MaxRefDigits || (digits[0] == (byte)'0' && digits.Length > 1))
        {
            return PhoenixMessage.UnknownRef;
        }

        ulong value = 0;
        foreach (var digit in digits)
        {
            var d = (uint)(digit - '0');
            if (d > 9)
            {
                return PhoenixMessage.UnknownRef;
            }

            value = (value * 10) + d;
        }

        // Nineteen digits fit a ulong, but not always a long.
        return value <= long.MaxValue ? (long)value : PhoenixMessage.UnknownRef;
    }

    private static bool CheckUtf8(ReadOnlySpan<byte> text, string name, out string? error)
    {
        error = Utf8.IsValid(text) ? null : name + " is not valid UTF-8";
        return error is null;
    }

    private Span<byte> Reserve(int length)
    {
        if (_scratch.Length - _scratchUsed < length)
        {
            _scratch = new byte[Math.Max(length, Math.Max(64, _scratch.Length * 2))];
            _scratchUsed = 0;
        }

        return _scratch.AsSpan(_scratchUsed, length);
    }
}
