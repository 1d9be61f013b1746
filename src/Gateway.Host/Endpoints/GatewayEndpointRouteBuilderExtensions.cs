using Gateway.Host.Endpoints;
using Gateway.Host.StatusPage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the gateway's HTTP endpoints.</summary>
internal static class GatewayEndpointRouteBuilderExtensions
{
    public static IEndpointRouteBuilder MapGatewayEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Liveness runs no check: the process answering is the signal.
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponseWriter.WriteAsync });
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        endpoints.Map(DemoFeedEndpoint.Path, DemoFeedEndpoint.HandleAsync);
        endpoints.MapSocketApi();
        endpoints.MapStatusPage();
        return endpoints;
    }
}
