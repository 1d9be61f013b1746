using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace Gateway.Benchmarks;

/// <summary>
/// Diagnostic (<c>--alloc-ticks</c>): samples the runtime's GCAllocationTick events (one per ~100 KB
/// allocated, with the type that crossed the threshold) during measured windows, to see which types
/// the allocations per frame are. Its own event dispatch allocates, so B/frame of such runs is not reported as a result.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const long GcKeyword = 0x1;

    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private volatile bool _recording;

    /// <summary>Set (to 1) for the idle clients: they sample the allocations of their connect span and print the top types.</summary>
    public const string IdleVariable = "GATEWAY_BENCH_ALLOC_TICKS";

    public static AllocationSampler? Current { get; set; }

    /// <summary>A started sampler when <see cref="IdleVariable"/> asks for one.</summary>
    public static AllocationSampler? StartIfAsked()
    {
        if (Environment.GetEnvironmentVariable(IdleVariable) != "1")
        {
            return null;
        }

        var sampler = new AllocationSampler();
        sampler.Start();
        return sampler;
    }

    public void Start()
    {
        _bytes.Clear();
        _recording = true;
    }

    /// <summary>Stops recording; returns the sampled bytes by type since <see cref="Start"/>.</summary>
    public Dictionary<string, long> Stop()
    {
        _recording = false;
        return new Dictionary<string, long>(_bytes);
    }

    /// <summary>The types with the most sampled bytes, with their share.</summary>
    public static string Describe(IReadOnlyDictionary<string, long> bytes, int count)
    {
        var total = bytes.Values.Sum();
        if (total == 0)
        {
            return "no allocation ticks";
        }

        return string.Join("; ", bytes.OrderByDescending(e => e.Value).Take(count)
            .Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Key} {100.0 * e.Value / total:N0}%")));
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSource)
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.PayloadNames is null || eventData.Payload is null)
        {
            return;
        }

        var type = "?";
        long amount = 0;
        for (var i = 0; i < eventData.PayloadNames.Count; i++)
        {
            switch (eventData.PayloadNames[i])
            {
                case "TypeName":
                    type = eventData.Payload[i] as string ?? "?";
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(eventData.Payload[i], CultureInfo.InvariantCulture);
                    break;
                case "AllocationAmount" when amount == 0:
                    amount = Convert.ToInt64(eventData.Payload[i], CultureInfo.InvariantCulture);
                    break;
            }
        }

        _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }
}
