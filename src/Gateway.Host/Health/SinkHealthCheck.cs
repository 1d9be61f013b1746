using Gateway.Host.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Health;

/// <summary>
/// Not ready while a required sink that an enabled socket uses is <see cref="SinkState.Down"/>: its
/// frames wait (Retry) or fail (Fail) until it is back. Sinks no socket names are listed, never judged.
/// </summary>
internal sealed class SinkHealthCheck(IEnumerable<ISinkHealth> sinks, IOptionsMonitor<GatewayOptions> options) : IHealthCheck
{
    public const string Name = "sinks";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var down = Snapshot(sinks, options.CurrentValue).Where(s => s.Required && s.InUse && s.State == SinkState.Down).Select(s => s.Name).ToList();
        return Task.FromResult(down.Count > 0
            ? HealthCheckResult.Unhealthy($"sink down: {string.Join(", ", down)}")
            : HealthCheckResult.Healthy());
    }

    /// <summary>Every sink as health shows it, with whether a socket uses it.</summary>
    public static IReadOnlyList<SinkSnapshot> Snapshot(IEnumerable<ISinkHealth> sinks, GatewayOptions options)
    {
        var used = options.Sockets.Values.Where(s => s.Enabled).SelectMany(s => s.Handlers).ToHashSet(StringComparer.Ordinal);
        return [.. sinks.Select(s => new SinkSnapshot(s.Name, s.State, s.Required, used.Contains(s.Name), s.LastError, s.InFlight, s.Confirmed, s.Failed))];
    }
}

/// <summary>A sink as <c>/health/ready</c> shows it under <c>sinks</c>.</summary>
internal sealed record SinkSnapshot(string Name, SinkState State, bool Required, bool InUse, string? LastError, long InFlight, long Confirmed, long Failed);
