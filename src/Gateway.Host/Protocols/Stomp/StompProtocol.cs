using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Protocols.Stomp;

/// <summary><c>Protocol: Stomp</c>: STOMP 1.2 over WebSocket (RabbitMQ web-stomp, ActiveMQ, Spring).</summary>
internal sealed class StompProtocol(TimeProvider time, ILoggerFactory loggerFactory) : IProtocol
{
    private static readonly string[] s_subProtocols = ["v12.stomp", "v11.stomp", "v10.stomp"];

    private readonly ILogger _logger = loggerFactory.CreateLogger<StompSession>();

    public IReadOnlyList<string> SubProtocols(SocketOptions options) => s_subProtocols;

    public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
        => new StompSession(connection, options, time, _logger);
}
