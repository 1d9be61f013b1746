using System.Net.WebSockets;

namespace Gateway.Host.Transport;

/// <summary>
/// Why <see cref="GatewayWebSocket"/> failed the connection: the server broke the protocol (or stopped answering
/// pings). <see cref="WebSocketException"/> is sealed, so this travels as the <see cref="Exception.InnerException"/>
/// of the <see cref="WebSocketException"/> (<see cref="WebSocketError.Faulted"/>, same message) that the socket
/// throws, which keeps the gateway's <c>catch (WebSocketException)</c> working; read it with <see cref="Of"/>.
/// </summary>
internal sealed class GatewayWebSocketException : Exception
{
    public GatewayWebSocketException()
    {
    }

    public GatewayWebSocketException(string message)
        : base(message)
    {
    }

    public GatewayWebSocketException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GatewayWebSocketException(string message, WebSocketCloseStatus sentCloseStatus, DisconnectKind kind)
        : base(message)
    {
        SentCloseStatus = sentCloseStatus;
        Kind = kind;
    }

    /// <summary><see cref="DisconnectKind.ProtocolError"/>, or <see cref="DisconnectKind.KeepAliveTimeout"/> for a missing pong.</summary>
    public DisconnectKind Kind { get; } = DisconnectKind.ProtocolError;

    /// <summary>
    /// The close code the gateway sent (or had already sent) to the server; <see cref="WebSocketCloseStatus.Empty"/>
    /// when it sent none (the socket was aborted: no pong within the keep-alive timeout, or the close frame could
    /// not be written).
    /// </summary>
    public WebSocketCloseStatus SentCloseStatus { get; } = WebSocketCloseStatus.Empty;

    /// <summary>The cause carried by an exception the socket threw, or null for any other failure.</summary>
    public static GatewayWebSocketException? Of(Exception exception) => exception?.InnerException as GatewayWebSocketException;

    /// <summary>The <see cref="WebSocketException"/> to throw: same message, this as its inner exception.</summary>
    public static WebSocketException Throwable(string message, WebSocketCloseStatus sentCloseStatus, DisconnectKind kind = DisconnectKind.ProtocolError)
        => new(WebSocketError.Faulted, message, new GatewayWebSocketException(message, sentCloseStatus, kind));
}
