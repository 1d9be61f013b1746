using System.Net.WebSockets;

namespace Gateway.Host.Transport;

/// <summary>
/// The transport ended a connection for a reason it can name: a protocol violation by the server
/// (after sending the close code in <see cref="SentCloseStatus"/>) or a missing pong. The message
/// says it in words, e.g. "invalid UTF-8 in a text message; gateway closed with 1007". Thrown
/// as the inner exception of a <see cref="WebSocketException"/> (a sealed type), so callers that
/// handle those need no change.
/// </summary>
internal sealed class ConnectionFaultException(string message, DisconnectKind kind, WebSocketCloseStatus? sentCloseStatus)
    : Exception(message)
{
    public DisconnectKind Kind { get; } = kind;

    /// <summary>The close code the gateway sent, or <see langword="null"/> when it dropped the connection without one.</summary>
    public WebSocketCloseStatus? SentCloseStatus { get; } = sentCloseStatus;
}
