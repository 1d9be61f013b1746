using System.Globalization;
using System.Net.Http;
using System.Text;

namespace Gateway.Host.Transport;

/// <summary>
/// The parts of an HTTP/1.1 response head that an upgrade or a proxy tunnel looks at: the status, the
/// headers <see cref="WebSocketUpgrade.Check"/> needs, and <c>Location</c> for a refused upgrade's message.
/// Malformed heads fail with HttpClient's words ("Received an invalid status line: '...'").
/// </summary>
internal readonly record struct ResponseHead(int Status, UpgradeAnswer Answer, string? Location)
{
    /// <summary>Parses a whole head, ending with its empty line.</summary>
    public static ResponseHead Parse(ReadOnlySpan<byte> head)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var status = ParseStatus(head[..lineEnd]);
        string? upgrade = null, connection = null, accept = null, protocol = null, extensions = null, location = null;
        var rest = head[(lineEnd + 2)..];
        while ((lineEnd = rest.IndexOf("\r\n"u8)) > 0)
        {
            var line = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[colon - 1] is (byte)' ' or (byte)'\t')
            {
                throw new HttpRequestException(HttpRequestError.InvalidResponse, $"Received an invalid header line: '{Encoding.Latin1.GetString(line)}'.");
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "Upgrade"u8))
            {
                upgrade = Append(upgrade, value, ",");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                connection = Append(connection, value, ",");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Accept"u8))
            {
                accept = Append(accept, value, ",");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Protocol"u8))
            {
                protocol = Append(protocol, value, ",");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Extensions"u8))
            {
                extensions = Append(extensions, value, ", ");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Location"u8))
            {
                location = Encoding.Latin1.GetString(value);
            }
        }

        return new ResponseHead(status, new UpgradeAnswer(upgrade, connection, accept, protocol, extensions), location);
    }

    /// <summary>The status of <c>HTTP/1.x SSS reason</c>; anything else throws.</summary>
    public static int ParseStatus(ReadOnlySpan<byte> line)
    {
        if (line.Length >= 12
            && line.StartsWith("HTTP/1."u8)
            && char.IsAsciiDigit((char)line[7])
            && line[8] == (byte)' '
            && int.TryParse(line.Slice(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            && status >= 100
            && (line.Length == 12 || line[12] == (byte)' '))
        {
            return status;
        }

        throw new HttpRequestException(HttpRequestError.InvalidResponse, $"Received an invalid status line: '{Encoding.Latin1.GetString(line)}'.");
    }

    private static string Append(string? current, ReadOnlySpan<byte> value, string separator)
    {
        var text = Encoding.Latin1.GetString(value);
        return current is null ? text : current + separator + text;
    }
}
