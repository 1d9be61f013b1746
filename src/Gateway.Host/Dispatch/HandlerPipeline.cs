using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Dispatch;

/// <summary>A socket's handlers, resolved once, in configured order.</summary>
internal sealed class HandlerPipeline
{
    public HandlerPipeline(IServiceProvider services, IReadOnlyList<string> names)
    {
        Names = [.. names];
        Handlers = [.. names.Select(name => services.GetRequiredKeyedService<IFrameHandler>(name))];
        Throttles = [.. names.Select(_ => new LogThrottle())];
    }

    public string[] Names { get; }

    public IFrameHandler[] Handlers { get; }

    public LogThrottle[] Throttles { get; }
}
