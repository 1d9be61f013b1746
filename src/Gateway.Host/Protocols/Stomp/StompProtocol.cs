using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Protocols.Stomp;

/// <summary><c>Protocol: Stomp</c>: STOMP 1.2 over WebSocket (RabbitMQ web-stomp, ActiveMQ, Spring).</summary>
internal sealed class StompProtocol(TimeProvider time, ILoggerFactory loggerFactory) : IProtocol
{
    private static readonly string[] s_subProtocols = ["v12.stomp", "v11.stomp", "v10.stomp"];

    private readonly ILogger _logger = loggerFactory.CreateLogger<StompSession>();

    public IReadOnlyList<string> SubProtocols(SocketOptions options) => s_subProtocols;

    /// <summary>A SEND needs a destination (its header, else <c>DefaultDestination</c>); the gateway sets <c>content-length</c>, <c>receipt</c> and <c>transaction</c> itself.</summary>
    public string? Validate(in OutboundMessage message, SocketOptions options)
    {
        var hasDestination = !string.IsNullOrEmpty(options.Stomp.DefaultDestination);
        foreach (var (name, value) in message.Headers)
        {
            if (name is "content-length" or "receipt" or "transaction")
            {
                return $"the STOMP header '{name}' is set by the gateway";
            }

            if (name == "destination")
            {
                if (value.Length == 0)
                {
                    return "the STOMP header 'destination' is empty";
                }

                hasDestination = true;
            }
        }

        return hasDestination ? null : "a STOMP send needs a destination: a 'destination' header (HTTP: ?destination=...) or Stomp:DefaultDestination";
    }

    public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
        => new StompSession(connection, options, time, _logger);
}
