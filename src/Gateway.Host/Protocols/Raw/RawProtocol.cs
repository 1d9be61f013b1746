using Gateway.Host.Configuration;

namespace Gateway.Host.Protocols.Raw;

/// <summary><c>Protocol: Raw</c>: each WebSocket message is one frame.</summary>
internal sealed class RawProtocol(TimeProvider time) : IProtocol
{
    public IReadOnlyList<string> SubProtocols(SocketOptions options) => [];

    public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
        => new RawSession(connection, options, time);
}
