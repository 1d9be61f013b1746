using Gateway.Host.Endpoints;
using Gateway.Host.StatusPage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the gateway's HTTP endpoints into an application.</summary>
public static class GatewayEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the gateway's endpoints: <c>/health/live</c>, <c>/health/ready</c>, <c>/metrics</c>, the demo feed,
    /// the socket API (<c>/sockets</c>, <c>/groups</c>) and <c>/plugins</c> (docs/api.md).
    /// </summary>
    /// <remarks>Needs <c>services.AddGateway(configuration)</c>, and <c>app.UseWebSockets()</c> before it for the demo feed.</remarks>
    /// <param name="endpoints">The application's endpoint route builder, e.g. the <c>WebApplication</c>.</param>
    /// <returns><paramref name="endpoints"/>.</returns>
    public static IEndpointRouteBuilder MapGateway(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);

        // Liveness runs no check: the process answering is the signal.
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponseWriter.WriteAsync });
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        endpoints.Map(DemoFeedEndpoint.Path, DemoFeedEndpoint.HandleAsync);
        endpoints.MapSocketApi();
        endpoints.MapPluginList();
        endpoints.MapStatusPage();
        return endpoints;
    }
}
