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

    /// <summary>The URL of one attempt, before the connect hook (Phoenix: <c>vsn</c> and the connect params in the query).</summary>
    Uri ConnectUrl(Uri url, SocketOptions options) => url;

    /// <summary>
    /// Whether a user send fits the protocol (its headers; a destination where one is needed), checked
    /// when it is accepted so that a bad send is rejected (<see cref="SendStatus.Invalid"/>) rather than
    /// breaking the connection later. Returns why not, or <see langword="null"/>. By default (raw) a
    /// message has no headers.
    /// </summary>
    string? Validate(in OutboundMessage message, SocketOptions options)
        => message.Headers.Count == 0 ? null : $"a {options.Protocol} socket sends no headers (got '{message.Headers[0].Key}')";

    /// <summary>A new session for a connection that just opened; one session per connection.</summary>
    IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options);
}
