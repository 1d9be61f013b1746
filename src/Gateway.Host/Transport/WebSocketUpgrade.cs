using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Host.Transport;

/// <summary>
/// The RFC 6455 opening handshake over an <see cref="HttpMessageInvoker"/>, as <c>ClientWebSocket</c>
/// does it: a GET with the upgrade headers, a 101 answer whose <c>Sec-WebSocket-Accept</c> matches the
/// key, then the connection's stream. The default path is <see cref="DirectUpgrade"/> (no HttpClient
/// connection behind the socket); this one serves proxies it does not speak (https, SOCKS). Both check
/// the answer with <see cref="Check"/>.
/// </summary>
internal static class WebSocketUpgrade
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>Upgrades, or throws <see cref="ConnectException"/> saying what the server answered.</summary>
    /// <param name="url">A ws:// or wss:// URL: the handler tunnels ws:// through a proxy as ClientWebSocket does.</param>
    /// <param name="compression">Offer permessage-deflate (<see cref="DeflateParameters.Offer"/>).</param>
    /// <returns>The upgraded connection's stream, the subprotocol the server chose, and the permessage-deflate parameters it accepted (null: none).</returns>
    public static async Task<(Stream Stream, string? SubProtocol, DeflateParameters? Deflate)> UpgradeAsync(
        HttpMessageInvoker invoker, Uri url, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string> subProtocols, bool compression, CancellationToken cancellationToken)
    {
        var key = CreateKey();
        using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
        request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", key);
        if (subProtocols.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Protocol", string.Join(", ", subProtocols));
        }

        if (compression)
        {
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Extensions", DeflateParameters.Offer);
        }

        HttpResponseMessage response;
        try
        {
            response = await invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw ConnectException.From(ex);
        }

        try
        {
            if (response.StatusCode != HttpStatusCode.SwitchingProtocols)
            {
                throw ConnectException.Refused((int)response.StatusCode, response.Headers.Location?.OriginalString);
            }

            var answer = new UpgradeAnswer(
                Header(response, "Upgrade"),
                Header(response, "Connection"),
                Header(response, "Sec-WebSocket-Accept"),
                Header(response, "Sec-WebSocket-Protocol"),
                response.Headers.TryGetValues("Sec-WebSocket-Extensions", out var extensions) ? string.Join(", ", extensions) : null);
            var (subProtocol, deflate) = Check(answer, key, subProtocols, compression);
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return (stream, subProtocol, deflate);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>A fresh <c>Sec-WebSocket-Key</c>: 16 random bytes, base64.</summary>
    public static string CreateKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// Checks a 101 answer's headers against what was offered (RFC 6455 4.1, RFC 7692): both upgrade
    /// headers, the accept value of <paramref name="key"/>, a subprotocol that was offered, and
    /// permessage-deflate only if offered; throws <see cref="ConnectException"/> saying what is wrong.
    /// </summary>
    /// <returns>The subprotocol the server chose and the permessage-deflate parameters it accepted (null: none).</returns>
    public static (string? SubProtocol, DeflateParameters? Deflate) Check(in UpgradeAnswer answer, string key, IReadOnlyList<string> subProtocols, bool compression)
    {
        if (!HasToken(answer.Upgrade, "websocket") || !HasToken(answer.Connection, "upgrade"))
        {
            throw new ConnectException("handshake failed: the 101 answer lacks 'Upgrade: websocket' and 'Connection: Upgrade'", null, "handshake_headers");
        }

        if (answer.Accept != ExpectedAccept(key))
        {
            throw new ConnectException($"handshake failed: Sec-WebSocket-Accept '{answer.Accept}' does not match the key sent", null, "handshake_accept");
        }

        string? subProtocol = null;
        if (answer.SubProtocol is { } chosen)
        {
            subProtocol = chosen.Trim();
            if (!subProtocols.Contains(subProtocol, StringComparer.Ordinal))
            {
                throw new ConnectException($"handshake failed: the server chose subprotocol '{subProtocol}', which was not offered", null, "handshake_subprotocol");
            }
        }

        DeflateParameters? deflate = null;
        if (answer.Extensions is { } extensions)
        {
            if (!compression)
            {
                throw new ConnectException("handshake failed: the server chose an extension, which was not offered", null, "handshake_extension");
            }

            if (!DeflateParameters.TryParse(extensions, out var accepted, out var error))
            {
                throw new ConnectException($"handshake failed: {error}", null, "handshake_extension");
            }

            deflate = accepted;
        }

        return (subProtocol, deflate);
    }

#pragma warning disable CA5350 // RFC 6455 section 4.2.2 defines the accept value with SHA-1; it is a checksum here, not security.
    private static string ExpectedAccept(string key)
        => Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
#pragma warning restore CA5350

    private static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static bool HasToken(string? value, string token)
    {
        if (value is null)
        {
            return false;
        }

        foreach (var range in value.AsSpan().Split(','))
        {
            if (value.AsSpan()[range].Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
