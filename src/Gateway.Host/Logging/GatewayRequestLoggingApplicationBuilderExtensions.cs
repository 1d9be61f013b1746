using Microsoft.Extensions.DependencyInjection;
using Serilog;
using Serilog.Events;

namespace Microsoft.AspNetCore.Builder;

/// <summary>One log event per HTTP request (Serilog.AspNetCore's request logging).</summary>
internal static class GatewayRequestLoggingApplicationBuilderExtensions
{
    /// <summary>
    /// Logs every request once it completed (method, path, status, elapsed) at Information; health
    /// probes and metric scrapes at Debug; exceptions and other 5xx answers at Error.
    /// </summary>
    public static IApplicationBuilder UseGatewayRequestLogging(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.UseSerilogRequestLogging(options =>
        {
            // The host's own logger, not the static one (left alone by AddGatewaySerilog).
            options.Logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
            // A 503 from /health/ready is an answer, not a failure of the gateway.
            options.GetLevel = static (context, _, exception) =>
                exception is not null ? LogEventLevel.Error
                : GatewayServiceCollectionExtensions.IsScrapeOrProbe(context.Request.Path) ? LogEventLevel.Debug
                : context.Response.StatusCode >= 500 ? LogEventLevel.Error
                : LogEventLevel.Information;
        });
    }
}
