using System.Buffers;
using System.Text;

namespace Gateway.Host.Protocols.Stomp;

/// <summary>
/// The STOMP 1.2 header escapes: <c>\r</c>, <c>\n</c>, <c>\c</c> (':') and <c>\\</c>. Every decoded
/// string has exactly one escaped form, so a header is looked up by comparing wire bytes.
/// </summary>
internal static class StompHeaderEscaping
{
    private const int StackLimit = 256;

    /// <summary>Throws on a lone surrogate rather than sending U+FFFD in its place.</summary>
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The bytes that must be escaped in an escaped frame.</summary>
    private static readonly SearchValues<byte> s_escaped = SearchValues.Create("\\\r\n:"u8);

    /// <summary>The strict UTF-8 byte count of <paramref name="text"/>, plus one per character that escaping doubles.</summary>
    public static int GetWireLength(ReadOnlySpan<char> text, bool escape)
    {
        var length = s_strictUtf8.GetByteCount(text);
        if (escape)
        {
            foreach (var c in text)
            {
                if (c is '\\' or '\r' or '\n' or ':')
                {
                    length++;
                }
            }
        }

        return length;
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8, escaped when <paramref name="escape"/>; <paramref name="destination"/> holds at least <see cref="GetWireLength"/> bytes.</summary>
    public static int Write(ReadOnlySpan<char> text, Span<byte> destination, bool escape)
    {
        var written = s_strictUtf8.GetBytes(text, destination);
        if (!escape)
        {
            return written;
        }

        var encoded = destination[..written];
        if (encoded.IndexOfAny(s_escaped) < 0)
        {
            return written;
        }

        var extra = 0;
        foreach (var b in encoded)
        {
            if (b is (byte)'\\' or (byte)'\r' or (byte)'\n' or (byte)':')
            {
                extra++;
            }
        }

        // Expand in place from the end: the escaped bytes are all ASCII.
        var output = written + extra;
        for (int read = written - 1, write = output - 1; read >= 0; read--)
        {
            var b = destination[read];
            var escapeChar = b switch
            {
                (byte)'\\' => (byte)'\\',
                (byte)'\r' => (byte)'r',
                (byte)'\n' => (byte)'n',
                (byte)':' => (byte)'c',
                _ => (byte)0,
            };
            if (escapeChar == 0)
            {
                destination[write--] = b;
            }
            else
            {
                destination[write--] = escapeChar;
                destination[write--] = (byte)'\\';
            }
        }

        return output;
    }

    /// <summary>Decodes wire bytes the parser validated (only defined escapes) to a string.</summary>
    public static string Decode(ReadOnlySpan<byte> wire, bool escaped)
    {
        if (!escaped || !wire.Contains((byte)'\\'))
        {
            return Encoding.UTF8.GetString(wire);
        }

        byte[]? rented = null;
        var buffer = wire.Length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(wire.Length));
        try
        {
            var length = Unescape(wire, buffer);
            return Encoding.UTF8.GetString(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Undoes the escapes of validated wire bytes into <paramref name="destination"/> (at least as long); returns the length.</summary>
    public static int Unescape(ReadOnlySpan<byte> wire, Span<byte> destination)
    {
        var written = 0;
        while (true)
        {
            var backslash = wire.IndexOf((byte)'\\');
            if (backslash < 0 || backslash + 1 >= wire.Length)
            {
                wire.CopyTo(destination[written..]);
                return written + wire.Length;
            }

            wire[..backslash].CopyTo(destination[written..]);
            written += backslash;
            destination[written++] = wire[backslash + 1] switch
            {
                (byte)'r' => (byte)'\r',
                (byte)'n' => (byte)'\n',
                (byte)'c' => (byte)':',
                var other => other, // '\\'; anything else was refused by the parser
            };
            wire = wire[(backslash + 2)..];
        }
    }

    /// <summary>The offset of the first undefined escape (or of a '\' that ends the text); -1 when all escapes are defined.</summary>
    public static int IndexOfInvalidEscape(ReadOnlySpan<byte> wire)
    {
        var offset = 0;
        while (wire.IndexOf((byte)'\\') is var backslash and >= 0)
        {
            if (backslash + 1 >= wire.Length || wire[backslash + 1] is not ((byte)'r' or (byte)'n' or (byte)'c' or (byte)'\\'))
            {
                return offset + backslash;
            }

            offset += backslash + 2;
            wire = wire[(backslash + 2)..];
        }

        return -1;
    }
}
