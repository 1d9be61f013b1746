using System.Net.WebSockets;

namespace Gateway;

/// <summary>Why a connection ended.</summary>
/// <param name="CloseStatus">The close code of the close handshake, or <see langword="null"/> when the connection dropped without one.</param>
/// <param name="CloseDescription">The close reason text, if any.</param>
/// <param name="Error">The error that ended the connection, if any.</param>
/// <param name="ClosedByGateway"><see langword="true"/> when the gateway chose to close (stop, reload, oversized message, dead peer).</param>
public sealed record DisconnectReason(WebSocketCloseStatus? CloseStatus, string? CloseDescription, Exception? Error, bool ClosedByGateway)
{
    /// <summary>Why, as one of a small fixed set.</summary>
    public DisconnectKind Kind { get; init; }
}
