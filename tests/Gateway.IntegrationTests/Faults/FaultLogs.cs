using Gateway.Testing;
using Microsoft.Extensions.Logging.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>Gateway log events by id, without ASP.NET Core's own events that reuse the same ids (e.g. 101, 102 of health checks).</summary>
internal static class FaultLogs
{
    public static IReadOnlyList<FakeLogRecord> Gateway(this FakeLogCollector logs, int id)
        => [.. logs.WithEventId(id).Where(r => r.Category?.StartsWith("Gateway.", StringComparison.Ordinal) == true)];
}
