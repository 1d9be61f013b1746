using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmbeddedGateway;

/// <summary>An application of its own that embeds the gateway and adds a handler.</summary>
public static class Program
{
    /// <summary>Runs the application: its own endpoint (<c>GET /counts</c>), and the gateway's sockets and endpoints.</summary>
    /// <param name="args">Command-line arguments (configuration).</param>
    /// <returns>A task that completes when the application stops.</returns>
    public static async Task Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddGateway(builder.Configuration)
            .AddFrameHandler<FrameCountHandler>(FrameCountHandler.Name);

        var app = builder.Build();
        app.UseWebSockets();
        app.MapGateway();
        app.MapGet("/counts", static (FrameCountHandler counter) => counter.Counts);
        await app.RunAsync().ConfigureAwait(false);
    }
}
