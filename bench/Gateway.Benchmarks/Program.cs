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
    private const string PinnedVariable = "GATEWAY_BENCH_PINNED";

    /// <summary>In <c>--pinned</c> mode the flood server runs on this CPU and the measured client on <see cref="ClientCpu"/>.</summary>
    private const int ServerCpu = 0;
    private const int ClientCpu = 1;

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

        if (args.Length > 0 && args[0] == "sinks")
        {
            return await SinkBenchmark.RunAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "stomp")
        {
            return await StompBenchmark.RunAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "serve-flood")
        {
            return await FloodServerProcess.ServeAsync(args).ConfigureAwait(false);
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

        if (options.AllocationTicks)
        {
            // The idle clients sample their connect span too.
            Environment.SetEnvironmentVariable(AllocationSampler.IdleVariable, "1");
        }

        if (options.Pinned)
        {
            if (Environment.GetEnvironmentVariable(PinnedVariable) is null)
            {
                return await RelaunchPinnedAsync(args).ConfigureAwait(false);
            }

            ChildProcess.ExitWhenParentGoes();
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {MachineCores()} cores, {CpuModel()}, {RuntimeInformation.OSDescription}");
        report.AppendLine(CultureInfo.InvariantCulture, $"Runtime: {RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC, {GCSettings.LatencyMode}");
        report.AppendLine(CultureInfo.InvariantCulture, $"Options: {options}");
        if (options.Pinned)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"Pinned: this client on CPU {ClientCpu} (ProcessorCount {Environment.ProcessorCount}), flood server in its own process on CPU {ServerCpu}");
        }

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
            var idle = await IdleMemoryBenchmark.RunAsync(options.IdleCounts, modes, options.Settle, options.IdleWarm).ConfigureAwait(false);
            report.AppendLine().Append(Tables.Idle(idle));
        }

        Console.WriteLine();
        Console.WriteLine(report);
        return report.ToString().Contains("FAILED", StringComparison.Ordinal) ? 1 : 0;
    }

    private static async Task<string> RunThroughputAsync(BenchOptions options)
    {
        IFloodServer server = options.Pinned
            ? await FloodServerProcess.StartAsync(ServerCpu).ConfigureAwait(false)
            : await BenchServer.StartAsync(0, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            using var bench = new ThroughputBenchmark(server, options.Binary, options.Windows, options.WindowTimeout);

            ClientKind[] kinds = options.Breakdown
                ? [ClientKind.Raw, ClientKind.RawPark, ClientKind.RawParkChannel, ClientKind.RawParkChannelSync, ClientKind.WebsocketClient, ClientKind.Gateway]
                : [ClientKind.Raw, ClientKind.WebsocketClient, ClientKind.Gateway];
            if (options.Only.Count > 0)
            {
                kinds = [.. kinds.Where(k => options.Only.Contains(ThroughputBenchmark.Name(k), StringComparer.OrdinalIgnoreCase))];
            }

            // Warm the JIT for every path before anything is reported.
            Console.WriteLine("Warm-up ...");
            _ = await bench.RunAsync([.. kinds.Where(k => k is ClientKind.Raw or ClientKind.WebsocketClient or ClientKind.Gateway)], 1, 1024, options.Frames(1024), options.Frames(1024) / 4).ConfigureAwait(false);

            var rows = new List<List<ThroughputResult>>();
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
                        results = await bench.RunAsync(kinds, sockets, size, 2 * frames, frames).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is TimeoutException or WebSocketException or HttpRequestException or IOException)
                    {
                        // Connecting failed: report it in the table and go on with the next configuration.
                        results = [.. kinds.Select(k => new ThroughputResult(ThroughputBenchmark.Name(k), sockets, size, frames, [], double.NaN, 0, 0, ex.Message, []))];
                    }

                    foreach (var result in results)
                    {
                        Print(result);
                    }

                    rows.Add(results);
                }
            }

            var logs = await server.TakeLogSummaryAsync().ConfigureAwait(false);
            if (logs.Length > 0)
            {
                Console.WriteLine("  server log:" + logs);
            }

            // The raw+ steps only in the breakdown table; the main table has raw, Websocket.Client and gateway.
            var main = rows.Select(r => r.Where(c => c.Mode is "raw" or "Websocket.Client" or "gateway").ToList()).ToList();
            var tables = options.Breakdown ? Tables.Throughput(main, options.Pinned) + Environment.NewLine + Tables.Breakdown(rows) : Tables.Throughput(main, options.Pinned);
            if (!options.Latency)
            {
                return tables;
            }

            var latency = new StringBuilder().AppendLine().AppendLine("Receive-to-handler latency at half the gateway's rate:").AppendLine().AppendLine(LatencyBenchmark.Header());
            foreach (var gateway in rows.SelectMany(r => r).Where(r => r.Mode == "gateway" && r.MedianFramesPerSecond > 0))
            {
                var line = await LatencyBenchmark.RunAsync(server, options.Binary, gateway.Sockets, gateway.PayloadSize, gateway.MedianFramesPerSecond, options.WindowTimeout).ConfigureAwait(false);
                Console.WriteLine("  latency " + line);
                latency.AppendLine(line);
            }

            return tables + latency;
        }
    }

    private static void Print(ThroughputResult r)
    {
        var windows = string.Join(", ", r.FramesPerSecond.Select(f => f.ToString("N0", CultureInfo.InvariantCulture)));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  {r.Mode,-16} {r.Sockets,3} sockets {Tables.Size(r.PayloadSize),6}: {r.MedianFramesPerSecond,12:N0} frames/s (windows: {windows}; {r.FramesPerWindow:N0} frames each), {r.MegabytesPerSecond,8:N1} MB/s, {r.AllocatedBytesPerFrame:N2} B/frame, CPU {r.CpuSecondsPerFrame * 1e6:N3} us/frame ({r.CpuBusy:P0} of {Environment.ProcessorCount} core(s)), gen0 {r.Gen0Collections}, gen2 {r.Gen2Collections}{(r.Failure is null ? string.Empty : " FAILED: " + r.Failure)}"));
        if (Verbose)
        {
            Console.WriteLine("      B/frame by window: " + string.Join(", ", r.AllocatedBytesPerFrameByWindow.Select(b => b.ToString("N2", CultureInfo.InvariantCulture))));
        }

        if (r.AllocationTypes is not null)
        {
            Console.WriteLine("      sampled allocations: " + r.AllocationTypes);
        }
    }

    /// <summary>
    /// <c>--pinned</c>: runs this benchmark again as a child on CPU <see cref="ClientCpu"/> only (taskset,
    /// so from its first instruction: every runtime thread and <see cref="Environment.ProcessorCount"/>
    /// see one CPU); that child starts the flood server on CPU <see cref="ServerCpu"/>. The child ends
    /// when this process closes its stdin or dies, and is killed after an hour.
    /// </summary>
    private static async Task<int> RelaunchPinnedAsync(string[] args)
    {
        if (ChildProcess.Taskset is null)
        {
            await Console.Error.WriteLineAsync("--pinned needs taskset (util-linux)").ConfigureAwait(false);
            return 2;
        }

        if (Environment.ProcessorCount < 2)
        {
            await Console.Error.WriteLineAsync("--pinned needs 2 CPUs").ConfigureAwait(false);
            return 2;
        }

        Environment.SetEnvironmentVariable(PinnedVariable, Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture));
        using var child = ChildProcess.StartSelf(ClientCpu, redirectOutput: false, args);
        using var stop = new CancellationTokenSource(TimeSpan.FromHours(1));
        ConsoleCancelEventHandler onCancel = (_, _) => ChildProcess.Kill(child);
        Console.CancelKeyPress += onCancel;
        try
        {
            await child.WaitForExitAsync(stop.Token).ConfigureAwait(false);
            return child.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("pinned run did not end within an hour: killed").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            ChildProcess.Kill(child);
        }
    }

    /// <summary>The machine's cores; a pinned child sees one, its launcher passed the real count.</summary>
    private static string MachineCores() => Environment.GetEnvironmentVariable(PinnedVariable) ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);

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
    bool Pinned,
    TimeSpan Settle,
    TimeSpan WindowTimeout)
{
    /// <summary>Also measure the gateway's receive-to-handler latency at half its rate (<see cref="LatencyBenchmark"/>).</summary>
    public bool Latency { get; init; }

    /// <summary>Sockets each idle client connects (and keeps) before its baseline snapshot (<c>--idle-warm</c>).</summary>
    public int IdleWarm { get; init; } = 100;

    /// <summary>Run only these contenders (<c>--only gateway</c>: for a profiler attached to the process); all when empty.</summary>
    public IReadOnlyList<string> Only { get; init; } = [];

    public const string Usage = """
        Gateway receive-path benchmark.
        usage: Gateway.Benchmarks [--quick] [--sizes 64,1024,16384] [--sockets 1,100] [--idle 1000,10000|none]
                                  [--windows 5] [--scale 1.0] [--binary] [--settle 5] [--idle-warm 100] [--verbose]
                                  [--breakdown] [--alloc-ticks] [--pinned] [--latency] [--only gateway]
          --quick     fewer frames (scale 0.2), 2 windows, idle at 1,000 sockets only (~1 min)
          --sizes     payload sizes in bytes (frames above 65,535 bytes use the 64-bit length)
          --sockets   socket counts for the throughput runs
          --idle      socket counts for the idle-memory runs, or none
          --windows   measured windows per run (the median is reported)
          --scale     multiplies the frames per window
          --binary    send binary frames (default: text, ASCII payload)
          --settle    seconds to wait before each idle-memory snapshot
          --idle-warm sockets connected before the idle baseline (default 100: the connect path has
                      gone through the JIT's tiers, so the growth is the sockets' own; 1: a cold start,
                      whose connect time includes compiling that path again while the sockets connect)
          --verbose   print the gateway's warnings after each run
          --breakdown also run the raw client rebuilt step by step towards the gateway: parked
                      zero-byte read (raw+park), plus a bounded channel to a consumer task
                      (raw+park+channel), the same with synchronous continuations (...(sync));
                      idle memory also for raw+details (CollectHttpResponseDetails) and raw-stream
                      (WebSocket.CreateFromStream over a NetworkStream, no HttpClient stack)
          --alloc-ticks  sample GCAllocationTick events in measured windows and print the top types
                      (diagnostic: the sampling itself allocates)
          --pinned    the flood server in its own process on CPU 0, the measured client (this
                      program, relaunched with taskset) on CPU 1 only: frames/s = 1 / CPU per frame,
                      and CPU time and B/frame are the client's alone; no idle run unless --idle
          --latency   then each gateway configuration again at half its measured rate (paced by the
                      server, ~1 s warm-up, ~3 s measured): every frame's receive-to-handler latency,
                      percentiles and a histogram
          --only      run only the named contenders (raw, Websocket.Client, gateway, ...): for a
                      profiler attached to the process; the tables then lack the ratios
        internal: serve-idle <port> | idle-client <port> <sockets> [settle seconds] [mode] [warm] | serve-flood [port]
        """;

    /// <summary>Frames per measured window for a payload size (all sockets together): about 1 s for the gateway pinned (0.1 s windows measured mostly their own start), 2-6 s for the others.</summary>
    public long Frames(int payloadSize)
    {
        var baseline = payloadSize switch
        {
            <= 256 => 8_000_000L,
            <= 4096 => 2_000_000L,
            <= 32768 => 300_000L,
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
            Pinned: false,
            TimeSpan.FromSeconds(quick ? 3 : 5),
            TimeSpan.FromSeconds(60));
        var idleGiven = false;
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
                        idleGiven = true;
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
                    case "--idle-warm":
                        options = options with { IdleWarm = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)) };
                        break;
                    case "--breakdown":
                        options = options with { Breakdown = true };
                        break;
                    case "--alloc-ticks":
                        options = options with { AllocationTicks = true };
                        break;
                    case "--pinned":
                        options = options with { Pinned = true };
                        break;
                    case "--latency":
                        options = options with { Latency = true };
                        break;
                    case "--verbose":
                        options = options with { Verbose = true };
                        break;
                    case "--only":
                        options = options with { Only = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
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

        // The pinned mode is about CPU per frame; idle memory runs in the default mode unless asked for.
        return options.Pinned && !idleGiven ? options with { IdleCounts = [] } : options;
    }

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{(Quick ? "--quick, " : string.Empty)}sizes {string.Join('/', Sizes)}, sockets {string.Join('/', SocketCounts)}, idle {(IdleCounts.Count == 0 ? "none" : string.Join('/', IdleCounts) + $" after {IdleWarm} warm")}, {Windows} windows, scale {Scale}, {(Binary ? "binary" : "text")} frames{(Breakdown ? ", breakdown" : string.Empty)}{(AllocationTicks ? ", alloc-ticks" : string.Empty)}{(Pinned ? ", pinned" : string.Empty)}{(Latency ? ", latency" : string.Empty)}");

    private static int[] Ints(string list) => [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
}

/// <summary>The Markdown tables.</summary>
internal static class Tables
{
    public static string Size(int bytes) => bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} B";

    /// <summary>
    /// Per contender: median frames/s, ratio to raw, allocated B/frame and, when <paramref name="cpu"/>
    /// (pinned mode, the process is the client alone), CPU microseconds per frame.
    /// </summary>
    public static string Throughput(List<List<ThroughputResult>> rows, bool cpu)
    {
        var s = new StringBuilder();
        var names = rows[0].Select(r => r.Mode).ToArray();
        s.Append("| sockets | payload |");
        foreach (var name in names)
        {
            s.Append(CultureInfo.InvariantCulture, $" {name} frames/s |{(name == "raw" ? string.Empty : " x raw |")} B/frame |{(cpu ? " CPU us/frame (busy) |" : string.Empty)}");
        }

        s.AppendLine().Append("|---:|---:|");
        foreach (var name in names)
        {
            s.Append(name == "raw" ? "---:|---:|" : "---:|---:|---:|").Append(cpu ? "---:|" : string.Empty);
        }

        s.AppendLine();
        foreach (var row in rows)
        {
            var raw = row[0];
            s.Append(CultureInfo.InvariantCulture, $"| {raw.Sockets} | {Size(raw.PayloadSize)} |");
            foreach (var r in row)
            {
                s.Append(CultureInfo.InvariantCulture, $" {r.MedianFramesPerSecond:N0} |");
                if (r.Mode != "raw")
                {
                    var ratio = raw.MedianFramesPerSecond > 0 ? r.MedianFramesPerSecond / raw.MedianFramesPerSecond : double.NaN;
                    s.Append(CultureInfo.InvariantCulture, $" {ratio:N2} |");
                }

                s.Append(CultureInfo.InvariantCulture, $" {r.AllocatedBytesPerFrame:N1} |");
                if (cpu)
                {
                    s.Append(CultureInfo.InvariantCulture, $" {r.CpuSecondsPerFrame * 1e6:N3} ({r.CpuBusy * 100:N0} %) |");
                }
            }

            s.AppendLine();
        }

        if (cpu)
        {
            // frames/s is 1 / CPU per frame only while the client's core is busy all the time; when the
            // server's core is the limit, the ratio of CPU per frame is the one that compares the clients.
            s.AppendLine().AppendLine("CPU per frame of raw / CPU per frame of the contender:").AppendLine().Append("| sockets | payload |");
            foreach (var name in names.Skip(1))
            {
                s.Append(CultureInfo.InvariantCulture, $" {name} |");
            }

            s.AppendLine().Append("|---:|---:|").AppendLine(string.Concat(names.Skip(1).Select(_ => "---:|")));
            foreach (var row in rows)
            {
                s.Append(CultureInfo.InvariantCulture, $"| {row[0].Sockets} | {Size(row[0].PayloadSize)} |");
                foreach (var r in row.Skip(1))
                {
                    s.Append(CultureInfo.InvariantCulture, $" {row[0].CpuSecondsPerFrame / r.CpuSecondsPerFrame:N2} |");
                }

                s.AppendLine();
            }
        }

        foreach (var failure in rows.SelectMany(r => r).Where(r => r.Failure is not null))
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
        s.AppendLine("| idle sockets | client | connect time | connect CPU | managed heap / socket | working set / socket | GC committed / socket | allocated / connect | threads before -> after |");
        s.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"| {r.Sockets:N0} | {r.Mode} | {r.ConnectSeconds:N1} s | {r.ConnectCpuSeconds:N1} s | {Kib(r.ManagedBytesPerSocket)} | {Kib(r.WorkingSetBytesPerSocket)} | {Kib(r.CommittedBytesPerSocket)} | {Kib(r.AllocatedBytesPerConnect)} | {r.ThreadsBefore} -> {r.ThreadsAfter} |");
        }

        foreach (var failure in rows.Where(r => r.Failure is not null))
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"\nFAILED idle {failure.Mode} {failure.Sockets}: {failure.Failure}");
        }

        return s.ToString();
    }

    private static string Kib(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:N1} KiB");
}
