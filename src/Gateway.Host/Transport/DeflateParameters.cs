using System.Globalization;

namespace Gateway.Host.Transport;

/// <summary>
/// What the server accepted of the gateway's permessage-deflate offer (RFC 7692 section 7): whether either side
/// resets its compression context after each message, and the LZ77 window sizes.
/// </summary>
/// <param name="ServerNoContextTakeover">The server compresses every message on its own: reset the inflater after each.</param>
/// <param name="ClientNoContextTakeover">The gateway must compress every message on its own: reset the deflater after each.</param>
/// <param name="ServerMaxWindowBits">The server's window (8-15); any fits the gateway's 15-bit inflater.</param>
/// <param name="ClientMaxWindowBits">The window the gateway may use (8-15); below 15 the gateway sends uncompressed (its deflater always uses 15).</param>
internal sealed record DeflateParameters(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int ServerMaxWindowBits, int ClientMaxWindowBits)
{
    /// <summary>The offer: context takeover both ways, and any client window the server wants.</summary>
    public const string Offer = "permessage-deflate; client_max_window_bits";

    private const int MaxWindowBits = 15;
    private const int MinWindowBits = 8;

    /// <summary>Both sides keep their context and use 32 KiB windows.</summary>
    public static DeflateParameters Default { get; } = new(false, false, MaxWindowBits, MaxWindowBits);

    /// <summary>Whether the gateway's deflater (always a 15-bit window) may compress what it sends.</summary>
    public bool CanCompressSends => ClientMaxWindowBits == MaxWindowBits;

    /// <summary>
    /// Parses the server's <c>Sec-WebSocket-Extensions</c> answer to <see cref="Offer"/>, or says what is wrong with it:
    /// another extension, more than one, an unknown, repeated or valueless parameter, or a window outside 8-15.
    /// </summary>
    public static bool TryParse(string header, out DeflateParameters parameters, out string error)
    {
        ArgumentNullException.ThrowIfNull(header);
        parameters = Default;
        var extensions = header.Split(',', StringSplitOptions.TrimEntries);
        if (extensions.Length != 1)
        {
            error = $"the server chose more than one extension ('{header}'), only permessage-deflate was offered";
            return false;
        }

        var parts = extensions[0].Split(';', StringSplitOptions.TrimEntries);
        if (!parts[0].Equals("permessage-deflate", StringComparison.OrdinalIgnoreCase))
        {
            error = $"the server chose extension '{parts[0]}', which was not offered";
            return false;
        }

        bool serverNoContext = false, clientNoContext = false;
        int? serverBits = null, clientBits = null;
        foreach (var part in parts.AsSpan(1))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? part : part[..equals]).Trim();
            var value = equals < 0 ? null : part[(equals + 1)..].Trim().Trim('"');
            var duplicate = false;
            var valid = name.ToLowerInvariant() switch
            {
                "server_no_context_takeover" => value is null && Flag(ref serverNoContext, ref duplicate),
                "client_no_context_takeover" => value is null && Flag(ref clientNoContext, ref duplicate),
                "server_max_window_bits" => TryBits(value, ref serverBits, ref duplicate),
                "client_max_window_bits" => TryBits(value, ref clientBits, ref duplicate),
                _ => false,
            };
            if (duplicate)
            {
                error = $"the server's permessage-deflate answer repeats '{name}' ('{header}')";
                return false;
            }

            if (!valid)
            {
                error = $"the server's permessage-deflate answer has an unknown or invalid parameter '{part}' ('{header}')";
                return false;
            }
        }

        parameters = new DeflateParameters(serverNoContext, clientNoContext, serverBits ?? MaxWindowBits, clientBits ?? MaxWindowBits);
        error = string.Empty;
        return true;
    }

    private static bool Flag(ref bool flag, ref bool duplicate)
    {
        duplicate = flag;
        flag = true;
        return true;
    }

    /// <summary>A window size: 8-15, digits only, no leading zero (RFC 7692 sections 7.1.2.1 and 7.1.2.2).</summary>
    private static bool TryBits(string? value, ref int? bits, ref bool duplicate)
    {
        duplicate = bits is not null;
        if (value is not { Length: 1 or 2 } || value[0] == '0' || !value.All(char.IsAsciiDigit))
        {
            return false;
        }

        var parsed = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
        bits = parsed;
        return parsed is >= MinWindowBits and <= MaxWindowBits;
    }
}
