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
        var body = new
        {
            status = report.Status.ToString(),
            description = report.Entries.Values.Select(e => e.Description).FirstOrDefault(d => d is not null),
            sockets = tracker.Snapshot(),
        };
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, SocketApiEndpoints.JsonOptions), context.RequestAborted);
    }
}
