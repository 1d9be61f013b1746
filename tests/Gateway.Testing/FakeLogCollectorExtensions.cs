using Microsoft.Extensions.Logging.Testing;

namespace Gateway.Testing;

public static class FakeLogCollectorExtensions
{
    /// <summary>The records logged so far with event id <paramref name="id"/>, in logging order.</summary>
    public static IReadOnlyList<FakeLogRecord> WithEventId(this FakeLogCollector logs, int id)
        => [.. logs.GetSnapshot().Where(r => r.Id.Id == id)];
}
