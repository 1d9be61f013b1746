using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Host.Health;

/// <summary>
/// Ready when every required socket is <see cref="SocketState.Ready"/>; Degraded (still ready) while a
/// socket's frames have all failed in a handler for <see cref="FailingFor"/>. Reads the tracker only; no I/O.
/// </summary>
internal sealed class SocketHealthCheck(SocketHealthTracker tracker, TimeProvider time) : IHealthCheck
{
    public const string Name = "sockets";

    public static readonly TimeSpan FailingFor = TimeSpan.FromSeconds(10);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var sockets = tracker.Snapshot();
        var notReady = sockets.Where(s => s.Required && s.State != SocketState.Ready).Select(s => s.Name).ToList();
        var data = sockets.ToDictionary(s => s.Name, s => (object)s, StringComparer.Ordinal);
        var now = time.GetUtcNow();
        var failing = sockets
            .Where(s => s.FailingHandler is { } f && now - f.Since >= FailingFor)
            .Select(s => s.FailingHandler is { } f ? $"{s.Name} (handler '{f.Handler}' failing every frame since {f.Since:O})" : s.Name)
            .ToList();
        var result = notReady.Count > 0 ? HealthCheckResult.Unhealthy($"not ready: {string.Join(", ", notReady)}", data: data)
            : failing.Count > 0 ? HealthCheckResult.Degraded($"handlers failing: {string.Join(", ", failing)}", data: data)
            : HealthCheckResult.Healthy($"{sockets.Count} socket(s), all required ready", data);
        return Task.FromResult(result);
    }
}
