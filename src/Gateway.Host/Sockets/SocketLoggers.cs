using Gateway.Host.Dispatch;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>The loggers every socket uses, made once: <c>CreateLogger&lt;T&gt;</c> allocates a wrapper per call, three per socket.</summary>
internal sealed class SocketLoggers(ILoggerFactory factory)
{
    public ILogger Connection { get; } = factory.CreateLogger<SocketConnection>();

    public ILogger Outbound { get; } = factory.CreateLogger<OutboundPipeline>();

    public ILogger Dispatcher { get; } = factory.CreateLogger<FrameDispatcher>();
}
