using System.Globalization;
using System.Net.Http;
using System.Net.WebSockets;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace Gateway.Benchmarks;

/// <summary>
/// Receive-path benchmark: raw <c>ClientWebSocket</c> against the gateway pipeline on the same
/// in-process flood server, and idle memory per socket. See docs/performance.md.
/// </summary>
internal static class Program
{
    private const string VerboseVariable = "GATEWAY_BENCH_VERBOSE";

    /// <summary>Prints the gateway's Warning+ log summary after each run (inherited by child processes).</summary>
    public static bool Verbose { get; private set; } = Environment.GetEnvironmentVariable(VerboseVariable) == "1";

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "serve-idle")
        {
            return await IdleMemoryBenchmark.ServeAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "idle-client")
        {
            return await IdleMemoryBenchmark.ClientAsync(args).ConfigureAwait(false);
        }

        var options = BenchOptions.Parse(args);
        if (options is null)
        {
            Console.WriteLine(BenchOptions.Usage);
            return 2;
        }

        if (options.Verbose)
        {
            Verbose = true;
            Environment.SetEnvironmentVariable(VerboseVariable, "1");
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {CpuModel()}, {RuntimeInformation.OSDescription}");
        report.AppendLine(CultureInfo.InvariantCulture, $"Runtime: {RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC, {GCSettings.LatencyMode}");
        report.AppendLine(CultureInfo.InvariantCulture, $"Options: {options}");
        Console.Write(report);

        using var sampler = options.AllocationTicks ? new AllocationSampler() : null;
        AllocationSampler.Current = sampler;
        if (options.Sizes.Count > 0 && options.SocketCounts.Count > 0)
        {
            report.AppendLine().Append(await RunThroughputAsync(options).ConfigureAwait(false));
        }

        if (options.IdleCounts.Count > 0)
        {
            Console.WriteLine("Idle memory:");
            IdleMode[] modes = options.Breakdown ? [IdleMode.RawStream, IdleMode.Raw, IdleMode.RawWithResponseDetails, IdleMode.Gateway] : [IdleMode.Raw, IdleMode.Gateway];
            var idle = await IdleMemoryBenchmark.RunAsync(options.IdleCounts, modes, options.Settle).ConfigureAwait(false);
            report.AppendLine().Append(Tables.Idle(idle));
        }

        Console.WriteLine();
        Console.WriteLine(report);
        return report.ToString().Contains("FAILED", StringComparison.Ordinal) ? 1 : 0;
    }

    private static async Task<string> RunThroughputAsync(BenchOptions options)
    {
        var server = await BenchServer.StartAsync(0, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            using var bench = new ThroughputBenchmark(server, options.Binary, options.Windows, options.WindowTimeout);

            // Warm the JIT for both paths before anything is reported.
            Console.WriteLine("Warm-up ...");
            _ = await bench.RunAsync([RawMode.Plain, null], 1, 1024, options.Frames(1024), options.Frames(1024) / 4).ConfigureAwait(false);

            RawMode?[] modes = options.Breakdown ? [RawMode.Plain, RawMode.Park, RawMode.ParkChannel, RawMode.ParkChannelSync, null] : [RawMode.Plain, null];
            var rows = new List<(ThroughputResult Raw, ThroughputResult Gateway)>();
            var breakdown = new List<List<ThroughputResult>>();
            foreach (var sockets in options.SocketCounts)
            {
                foreach (var size in options.Sizes)
                {
                    // Warm-up of two windows' worth: JIT tiers settle, and the gateway's buffer pool and
                    // queues reach their high-water mark before anything is measured.
                    var frames = options.Frames(size);
                    List<ThroughputResult> results;
                    try
                    {
                        results = await bench.RunAsync(modes, sockets, size, 2 * frames, frames).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is TimeoutException or WebSocketException or HttpRequestException or IOException)
                    {
                        // Connecting failed: report it in the table and go on with the next configuration.
                        results = [.. modes.Select(m => new ThroughputResult(ThroughputBenchmark.Name(m), sockets, size, frames, [], double.NaN, 0, 0, ex.Message, []))];
                    }

                    foreach (var result in results)
                    {
                        Print(result);
                    }

                    rows.Add((results[0], results[^1]));
                    breakdown.Add(results);
                }
            }

            var logs = server.Logs.TakeSummary();
            if (logs.Length > 0)
            {
                Console.WriteLine("  server log:" + logs);
            }

            return options.Breakdown ? Tables.Throughput(rows) + Environment.NewLine + Tables.Breakdown(breakdown) : Tables.Throughput(rows);
        }
    }

    private static void Print(ThroughputResult r)
    {
        var windows = string.Join(", ", r.FramesPerSecond.Select(f => f.ToString("N0", CultureInfo.InvariantCulture)));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  {r.Mode,-7} {r.Sockets,3} sockets {Tables.Size(r.PayloadSize),6}: {r.MedianFramesPerSecond,12:N0} frames/s (windows: {windows}; {r.FramesPerWindow:N0} frames each), {r.MegabytesPerSecond,8:N1} MB/s, {r.AllocatedBytesPerFrame:N2} B/frame, gen0 {r.Gen0Collections}, gen2 {r.Gen2Collections}{(r.Failure is null ? string.Empty : " FAILED: " + r.Failure)}"));
        if (Verbose)
        {
            Console.WriteLine("      B/frame by window: " + string.Join(", ", r.AllocatedBytesPerFrameByWindow.Select(b => b.ToString("N2", CultureInfo.InvariantCulture))));
        }

        if (r.AllocationTypes is not null)
        {
            Console.WriteLine("      sampled allocations: " + r.AllocationTypes);
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}

/// <summary>Command-line options.</summary>
internal sealed record BenchOptions(
    bool Quick,
    IReadOnlyList<int> Sizes,
    IReadOnlyList<int> SocketCounts,
    IReadOnlyList<int> IdleCounts,
    int Windows,
    double Scale,
    bool Binary,
    bool Verbose,
    bool Breakdown,
    bool AllocationTicks,
    TimeSpan Settle,
    TimeSpan WindowTimeout)
{
    public const string Usage = """
        Gateway receive-path benchmark.
        usage: Gateway.Benchmarks [--quick] [--sizes 64,1024,16384] [--sockets 1,100] [--idle 1000,10000|none]
                                  [--windows 5] [--scale 1.0] [--binary] [--settle 5] [--verbose]
                                  [--breakdown] [--alloc-ticks]
          --quick     fewer frames (scale 0.2), 2 windows, idle at 1,000 sockets only (~1 min)
          --sizes     payload sizes in bytes (frames above 65,535 bytes use the 64-bit length)
          --sockets   socket counts for the throughput runs
          --idle      socket counts for the idle-memory runs, or none
          --windows   measured windows per run (the median is reported)
          --scale     multiplies the frames per window
          --binary    send binary frames (default: text, ASCII payload)
          --settle    seconds to wait before each idle-memory snapshot
          --verbose   print the gateway's warnings after each run
          --breakdown also run the raw client rebuilt step by step towards the gateway: parked
                      zero-byte read (raw+park), plus a bounded channel to a consumer task
                      (raw+park+channel), the same with synchronous continuations (...(sync));
                      idle memory also for raw+details (CollectHttpResponseDetails) and raw-stream
                      (WebSocket.CreateFromStream over a NetworkStream, no HttpClient stack)
          --alloc-ticks  sample GCAllocationTick events in measured windows and print the top types
                      (diagnostic: the sampling itself allocates)
        internal: serve-idle <port> | idle-client <port> <sockets> [settle seconds]
        """;

    /// <summary>Frames per measured window for a payload size (all sockets together), about 0.5-1 s each on 2 cores.</summary>
    public long Frames(int payloadSize)
    {
        var baseline = payloadSize switch
        {
            <= 256 => 1_000_000L,
            <= 4096 => 600_000L,
            <= 32768 => 150_000L,
            _ => 40_000L,
        };
        return Math.Max(1000, (long)(baseline * Scale));
    }

    public static BenchOptions? Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var options = new BenchOptions(
            quick,
            [64, 1024, 16384],
            [1, 100],
            quick ? [1000] : [1000, 10000],
            quick ? 2 : 5,
            quick ? 0.2 : 1.0,
            Binary: false,
            Verbose: false,
            Breakdown: false,
            AllocationTicks: false,
            TimeSpan.FromSeconds(quick ? 3 : 5),
            TimeSpan.FromSeconds(60));
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--quick":
                        break;
                    case "--sizes":
                        options = options with { Sizes = Ints(Next()) };
                        break;
                    case "--sockets":
                        options = options with { SocketCounts = Ints(Next()) };
                        break;
                    case "--idle":
                        var idle = Next();
                        options = options with { IdleCounts = idle == "none" ? [] : Ints(idle) };
                        break;
                    case "--windows":
                        options = options with { Windows = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)) };
                        break;
                    case "--scale":
                        options = options with { Scale = double.Parse(Next(), CultureInfo.InvariantCulture) };
                        break;
                    case "--binary":
                        options = options with { Binary = true };
                        break;
                    case "--settle":
                        options = options with { Settle = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) };
                        break;
                    case "--breakdown":
                        options = options with { Breakdown = true };
                        break;
                    case "--alloc-ticks":
                        options = options with { AllocationTicks = true };
                        break;
                    case "--verbose":
                        options = options with { Verbose = true };
                        break;
                    default:
                        Console.Error.WriteLine($"unknown option {args[i]}");
                        return null;
                }
            }
            catch (FormatException ex)
            {
                Console.Error.WriteLine(ex.Message);
                return null;
            }
        }

        return options;
    }

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{(Quick ? "--quick, " : string.Empty)}sizes {string.Join('/', Sizes)}, sockets {string.Join('/', SocketCounts)}, idle {(IdleCounts.Count == 0 ? "none" : string.Join('/', IdleCounts))}, {Windows} windows, scale {Scale}, {(Binary ? "binary" : "text")} frames{(Breakdown ? ", breakdown" : string.Empty)}{(AllocationTicks ? ", alloc-ticks" : string.Empty)}");

    private static int[] Ints(string list) => [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
}

/// <summary>The Markdown tables.</summary>
internal static class Tables
{
    public static string Size(int bytes) => bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} B";

    public static string Throughput(List<(ThroughputResult Raw, ThroughputResult Gateway)> rows)
    {
        var s = new StringBuilder();
        s.AppendLine("| sockets | payload | raw frames/s | raw MB/s | gateway frames/s | gateway MB/s | gateway/raw | raw B/frame | gateway B/frame | gateway - raw B/frame |");
        s.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (raw, gateway) in rows)
        {
            var ratio = raw.MedianFramesPerSecond > 0 ? gateway.MedianFramesPerSecond / raw.MedianFramesPerSecond : double.NaN;
            s.AppendLine(CultureInfo.InvariantCulture, $"| {raw.Sockets} | {Size(raw.PayloadSize)} | {raw.MedianFramesPerSecond:N0} | {raw.MegabytesPerSecond:N1} | {gateway.MedianFramesPerSecond:N0} | {gateway.MegabytesPerSecond:N1} | {ratio:N2} | {raw.AllocatedBytesPerFrame:N2} | {gateway.AllocatedBytesPerFrame:N2} | {gateway.AllocatedBytesPerFrame - raw.AllocatedBytesPerFrame:N2} |");
        }

        foreach (var failure in rows.SelectMany(r => new[] { r.Raw, r.Gateway }).Where(r => r.Failure is not null))
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"\nFAILED {failure.Mode} {failure.Sockets} sockets {Size(failure.PayloadSize)}: {failure.Failure}");
        }

        return s.ToString();
    }

    /// <summary>The raw client rebuilt step by step towards the gateway's receive path (frames/s, and B/frame).</summary>
    public static string Breakdown(List<List<ThroughputResult>> cases)
    {
        var s = new StringBuilder();
        var modes = cases[0].Select(r => r.Mode).ToArray();
        s.AppendLine("| sockets | payload | " + string.Join(" | ", modes) + " |");
        s.AppendLine("|---:|---:|" + string.Concat(modes.Select(_ => "---:|")));
        foreach (var steps in cases)
        {
            s.Append(CultureInfo.InvariantCulture, $"| {steps[0].Sockets} | {Size(steps[0].PayloadSize)} |");
            foreach (var r in steps)
            {
                s.Append(CultureInfo.InvariantCulture, $" {r.MedianFramesPerSecond:N0} ({r.AllocatedBytesPerFrame:N0} B) |");
            }

            s.AppendLine();
        }

        return s.ToString();
    }

    public static string Idle(List<IdleResult> rows)
    {
        var s = new StringBuilder();
        s.AppendLine("| idle sockets | client | connect time | managed heap / socket | working set / socket | GC committed / socket | threads before -> after |");
        s.AppendLine("|---:|---|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"| {r.Sockets:N0} | {r.Mode} | {r.ConnectSeconds:N1} s | {Kib(r.ManagedBytesPerSocket)} | {Kib(r.WorkingSetBytesPerSocket)} | {Kib(r.CommittedBytesPerSocket)} | {r.ThreadsBefore} -> {r.ThreadsAfter} |");
        }

        foreach (var failure in rows.Where(r => r.Failure is not null))
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"\nFAILED idle {failure.Mode} {failure.Sockets}: {failure.Failure}");
        }

        return s.ToString();
    }

    private static string Kib(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:N1} KiB");
}
