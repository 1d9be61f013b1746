using Microsoft.AspNetCore.Http;

namespace Gateway.Testing;

/// <summary>One WebSocket handshake a <see cref="PhoenixServer"/> saw, accepted or not.</summary>
public sealed class PhoenixConnectRequest
{
    public required string Path { get; init; }

    /// <summary>The query parameters (the connect params, <c>vsn</c> included); the last value wins, as in Plug.</summary>
    public required IReadOnlyDictionary<string, string> Params { get; init; }

    /// <summary>The <c>vsn</c> query parameter, or null when absent (Phoenix then assumes "1.0.0").</summary>
    public string? Vsn => Params.TryGetValue("vsn", out var vsn) ? vsn : null;

    /// <summary>The subprotocols the client offered, in order (the token entry included).</summary>
    public required IReadOnlyList<string> OfferedSubprotocols { get; init; }

    /// <summary>The token from a <c>base64url.bearer.phx.&lt;token&gt;</c> subprotocol, decoded (UTF-8).</summary>
    public string? AuthToken { get; internal set; }

    /// <summary>A copy of the request headers.</summary>
    public required IHeaderDictionary Headers { get; init; }

    /// <summary>The HTTP status answered: 101 when upgraded, 403 when refused, ...; null while undecided.</summary>
    public int? Status { get; internal set; }
}
