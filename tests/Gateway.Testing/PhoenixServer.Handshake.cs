using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Gateway.Testing;

public sealed partial class PhoenixServer
{
    private const string AuthTokenPrefix = "base64url.bearer.phx.";

    // Elixir's Version.parse/1: MAJOR.MINOR.PATCH, optional -pre and +build.
    [GeneratedRegex(@"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")]
    private static partial Regex VersionPattern();

    // Phoenix.Transports.WebSocket.call/2 with auth_token: true, then Phoenix.Socket.__connect__/3.
    private async Task HandleAsync(HttpContext context)
    {
        if (!string.Equals(context.Request.Path, Path, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var request = new PhoenixConnectRequest
        {
            Path = context.Request.Path,
            Params = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.LastOrDefault() ?? string.Empty, StringComparer.Ordinal),
            OfferedSubprotocols = context.WebSockets.WebSocketRequestedProtocols.ToArray(),

            // Copied: Kestrel reuses the request's header collection after the request ends.
            Headers = new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase)),
        };
        Handshakes.Enqueue(request);

        var status = Negotiate(request, context.WebSockets.IsWebSocketRequest, out var subProtocol, out var serializerVersion);
        if (status is not StatusCodes.Status101SwitchingProtocols)
        {
            request.Status = status;
            context.Response.StatusCode = status;
            return;
        }

        request.Status = status;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(subProtocol);
        var connection = new PhoenixConnection(this, socket, context, request, serializerVersion, Interlocked.Increment(ref _connectionCount));
        Connections.Enqueue(connection);
        await RunConnectionAsync(connection);
    }

    private int Negotiate(PhoenixConnectRequest request, bool isWebSocketRequest, out string? subProtocol, out int serializerVersion)
    {
        subProtocol = null;
        serializerVersion = 0;

        // A token in Sec-WebSocket-Protocol: "phoenix" plus "base64url.bearer.phx.<token>". phoenix.js writes
        // the token with btoa() minus "=", i.e. the standard alphabet despite the name, and Phoenix decodes it
        // with Base.decode64!(padding: false): a token in the URL-safe alphabet raises (500).
        var offered = request.OfferedSubprotocols;
        var tokens = offered.Where(p => p.StartsWith(AuthTokenPrefix, StringComparison.Ordinal)).ToArray();
        if (tokens.Length == 1)
        {
            var encoded = tokens[0][AuthTokenPrefix.Length..];
            try
            {
                request.AuthToken = Encoding.UTF8.GetString(Convert.FromBase64String(encoded.PadRight(encoded.Length + ((4 - (encoded.Length % 4)) % 4), '=')));
            }
            catch (FormatException)
            {
                return StatusCodes.Status500InternalServerError;
            }

            offered = offered.Where(p => p != tokens[0]).ToArray();
        }

        // check_subprotocols with ["phoenix"]: when the client offers any, one must be "phoenix", else 403.
        if (offered.Count > 0)
        {
            if (!offered.Contains("phoenix", StringComparer.Ordinal))
            {
                return StatusCodes.Status403Forbidden;
            }

            subProtocol = "phoenix";
        }

        // No vsn means "1.0.0" (the V1 serializer) on the server; phoenix.js always sends vsn=2.0.0.
        // Serializers: V1 for "~> 1.0.0", V2 for "~> 2.0.0"; anything else, or an unparsable version, is 403.
        var match = VersionPattern().Match(request.Vsn ?? "1.0.0");
        serializerVersion = match.Success && !match.Groups[4].Success && match.Groups[2].Value == "0"
            ? match.Groups[1].Value switch { "1" => 1, "2" => 2, _ => 0 }
            : 0;
        if (serializerVersion == 0)
        {
            return StatusCodes.Status403Forbidden;
        }

        // connect/3 returning :error (or {:error, _} with the default error handler) is a 403 with an empty body.
        if (ConnectCheck is { } check && !check(request))
        {
            return StatusCodes.Status403Forbidden;
        }

        // Phoenix upgrades a non-WebSocket GET too, and the adapter refuses it with 400.
        return isWebSocketRequest ? StatusCodes.Status101SwitchingProtocols : StatusCodes.Status400BadRequest;
    }
}
