using System.Text.Json;
using Gateway.Host.Health;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Host.Endpoints;

/// <summary>Writes health results as JSON: overall status plus every socket's state and counters.</summary>
internal static class HealthResponseWriter
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var tracker = context.RequestServices.GetRequiredService<SocketHealthTracker>();
        var sinks = SinkHealthCheck.Snapshot(
            context.RequestServices.GetServices<ISinkHealth>(),
            context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<Configuration.GatewayOptions>>().CurrentValue);
        var body = new
        {
            status = report.Status.ToString(),
            description = string.Join("; ", report.Entries.Values.Where(e => e.Status != HealthStatus.Healthy || report.Status == HealthStatus.Healthy).Select(e => e.Description).Where(d => !string.IsNullOrEmpty(d))),
            sockets = tracker.Snapshot(),
            sinks = sinks.Where(s => s.InUse || s.State != SinkState.Idle).ToList(),
        };
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, SocketApiEndpoints.JsonOptions), context.RequestAborted);
    }
}
