using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Host.Health;

/// <summary>Ready when every required socket is <see cref="SocketState.Ready"/>. Reads the tracker only; no I/O.</summary>
internal sealed class SocketHealthCheck(SocketHealthTracker tracker) : IHealthCheck
{
    public const string Name = "sockets";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var sockets = tracker.Snapshot();
        var notReady = sockets.Where(s => s.Required && s.State != SocketState.Ready).Select(s => s.Name).ToList();
        var data = sockets.ToDictionary(s => s.Name, s => (object)s, StringComparer.Ordinal);
        var result = notReady.Count == 0
            ? HealthCheckResult.Healthy($"{sockets.Count} socket(s), all required ready", data)
            : HealthCheckResult.Unhealthy($"not ready: {string.Join(", ", notReady)}", data: data);
        return Task.FromResult(result);
    }
}
