using System.Net.WebSockets;

namespace Gateway.Host.Sockets;

/// <summary>How the end of a connection is told: a label from a fixed set for metrics, and a sentence for health and logs.</summary>
internal static class Disconnects
{
    // Indexed by DisconnectKind.
    private static readonly string[] s_labels =
    [
        "unknown", "server_closed", "connection_lost", "protocol_error", "too_large", "keepalive_timeout",
        "no_message_timeout", "heartbeat_timeout", "protocol_failed", "reconnect_requested", "stopping",
    ];

    /// <summary>The <c>gateway_reason</c> label of <c>gateway_socket_disconnects_total</c>.</summary>
    public static string Label(DisconnectKind kind) => (uint)kind < (uint)s_labels.Length ? s_labels[(int)kind] : "unknown";

    /// <summary>What happened, in words: "server closed with 1001 'restart'", "invalid UTF-8 in a text message; gateway closed with 1007".</summary>
    public static string Describe(DisconnectReason reason)
    {
        var code = reason.CloseStatus is { } status ? ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        var text = string.IsNullOrEmpty(reason.CloseDescription) ? null : reason.CloseDescription;
        return reason.Kind switch
        {
            DisconnectKind.ServerClosed when code is null => "server closed without a status code",
            DisconnectKind.ServerClosed => text is null ? $"server closed with {code}" : $"server closed with {code} '{text}'",

            // The transport's own words already say what the gateway did.
            DisconnectKind.ProtocolError or DisconnectKind.KeepAliveTimeout when text is not null => text,
            // The gateway's transport says it already ("connection closed by the server without a close frame").
            DisconnectKind.ConnectionLost when reason.Error is WebSocketException { WebSocketErrorCode: WebSocketError.ConnectionClosedPrematurely } closed
                && closed.Message.Contains("without a close frame", StringComparison.Ordinal) => closed.Message,
            DisconnectKind.ConnectionLost or DisconnectKind.Unknown when reason.Error is { } error => $"connection lost without a close frame: {error.Message}",
            DisconnectKind.ConnectionLost => "connection lost without a close frame",
            _ when !reason.ClosedByGateway => text ?? reason.Error?.Message ?? "connection ended",
            _ when code is null => $"{text ?? reason.Error?.Message ?? "closed"}; gateway dropped the connection",
            _ => $"{text ?? "closed"}; gateway closed with {code}",
        };
    }

    /// <summary>A connection that ended in an exception: the transport's words when it has them.</summary>
    public static DisconnectReason FromError(Exception error, bool stopping)
    {
        if (Transport.GatewayWebSocketException.Of(error) is { } fault)
        {
            var sent = fault.SentCloseStatus == WebSocketCloseStatus.Empty ? (WebSocketCloseStatus?)null : fault.SentCloseStatus;
            return new DisconnectReason(sent, fault.Message, error, ClosedByGateway: true) { Kind = stopping ? DisconnectKind.Stopping : fault.Kind };
        }

        // ClientWebSocket (the fallback transport) says only "Aborted" for most faults; its keep-alive timeout it does name.
        var kind = error.ToString().Contains("KeepAliveTimeout", StringComparison.Ordinal) ? DisconnectKind.KeepAliveTimeout : DisconnectKind.ConnectionLost;
        return new DisconnectReason(null, kind == DisconnectKind.KeepAliveTimeout ? "no pong within KeepAliveTimeout" : null, error, ClosedByGateway: stopping || kind == DisconnectKind.KeepAliveTimeout)
        {
            Kind = stopping ? DisconnectKind.Stopping : kind,
        };
    }
}
