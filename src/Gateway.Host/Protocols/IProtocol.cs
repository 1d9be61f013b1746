using Gateway.Host.Configuration;

namespace Gateway.Host.Protocols;

/// <summary>
/// One per <see cref="SocketProtocol"/> value, registered in DI keyed by it: this is where a protocol
/// (raw, STOMP, Phoenix) plugs in. <c>Sockets/</c> and <c>Dispatch/</c> only know these interfaces.
/// </summary>
internal interface IProtocol
{
    /// <summary>The subprotocols to offer in the handshake, ahead of the socket's configured ones.</summary>
    IReadOnlyList<string> SubProtocols(SocketOptions options);

    /// <summary>A new session for a connection that just opened; one session per connection.</summary>
    IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options);
}
