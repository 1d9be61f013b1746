using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Sockets;
using Gateway.Host.Transport;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Benchmarks;

/// <summary>What holds the idle sockets.</summary>
internal enum IdleMode
{
    Gateway,
    Raw,
    RawWithResponseDetails,

    /// <summary>No HttpClient stack: own handshake over a NetworkStream, then <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>.</summary>
    RawStream,
}

/// <summary>Client-side memory of N idle sockets, per socket.</summary>
internal sealed record IdleResult(
    string Mode,
    int Sockets,
    double ConnectSeconds,
    double ManagedBytesPerSocket,
    double WorkingSetBytesPerSocket,
    double CommittedBytesPerSocket,
    int ThreadsBefore,
    int ThreadsAfter,
    string? Failure,
    double ConnectCpuSeconds = double.NaN,
    double ApplySeconds = double.NaN,
    double AllocatedBytesPerConnect = double.NaN);

/// <summary>
/// Idle memory per socket. The idle server runs in a child process (<c>serve-idle</c>) and the
/// gateway in another (<c>idle-client</c>), so that only the gateway's memory is counted and every
/// socket count starts from a fresh process.
/// </summary>
internal static class IdleMemoryBenchmark
{
    private const string ResultPrefix = "RESULT\t";
    private const string PortPrefix = "PORT ";

    // Warm sockets are added in this many reloads, a second apart (see GatewayClientAsync).
    private const int WarmRounds = 4;

    /// <summary>Orchestrates: one idle server process, then one gateway process per socket count.</summary>
    public static async Task<List<IdleResult>> RunAsync(IReadOnlyList<int> counts, IReadOnlyList<IdleMode> modes, TimeSpan settle, int warm)
    {
        var results = new List<IdleResult>();
        using var server = ChildProcess.StartSelf(null, true, "serve-idle", "0");
        try
        {
            var portLine = await ChildProcess.ReadLineStartingWithAsync(server, PortPrefix, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            var port = int.Parse(portLine, CultureInfo.InvariantCulture);
            foreach (var count in counts)
            {
                foreach (var mode in modes)
                {
                    var name = ModeName(mode);
                    Console.WriteLine($"  idle {name}: {count} sockets ...");
                    using var client = ChildProcess.StartSelf(null, true, "idle-client", port.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture), settle.TotalSeconds.ToString(CultureInfo.InvariantCulture), name, warm.ToString(CultureInfo.InvariantCulture));
                    try
                    {
                        var line = await ChildProcess.ReadLineStartingWithAsync(client, ResultPrefix, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
                        var result = ParseResult(line);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    connected in {result.ConnectSeconds:N1} s ({result.ConnectCpuSeconds:N1} s CPU{(double.IsNaN(result.ApplySeconds) ? string.Empty : $", reload applied after {result.ApplySeconds:N2} s")}); per socket: managed {result.ManagedBytesPerSocket:N0} B, working set {result.WorkingSetBytesPerSocket:N0} B, GC committed {result.CommittedBytesPerSocket:N0} B; allocated {result.AllocatedBytesPerConnect:N0} B per connect; threads {result.ThreadsBefore} -> {result.ThreadsAfter}{(result.Failure is null ? string.Empty : " FAILED: " + result.Failure)}"));
                        results.Add(result);
                    }
                    catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or FormatException)
                    {
                        results.Add(new IdleResult(name, count, double.NaN, double.NaN, double.NaN, double.NaN, 0, 0, ex.Message));
                    }
                    finally
                    {
                        await ChildProcess.EndAsync(client, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            server.StandardInput.Close(); // the server exits when its stdin closes
            await ChildProcess.EndAsync(server, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }

        return results;
    }

    /// <summary><c>serve-idle &lt;port&gt;</c>: accepts WebSockets on /idle and keeps them open until stdin closes (at most an hour).</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        var port = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
        var server = await BenchServer.StartAsync(port, TimeSpan.FromHours(1)).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            Console.WriteLine(PortPrefix + server.Port.ToString(CultureInfo.InvariantCulture));
            await Console.In.ReadToEndAsync().WaitAsync(TimeSpan.FromHours(1)).ConfigureAwait(false);
        }

        var logs = server.Logs.TakeSummary();
        if (logs.Length > 0)
        {
            await Console.Error.WriteLineAsync("idle server log:" + logs).ConfigureAwait(false);
        }

        return 0;
    }

    public static string ModeName(IdleMode mode) => mode switch
    {
        IdleMode.Raw => "raw",
        IdleMode.RawWithResponseDetails => "raw+details",
        IdleMode.RawStream => "raw-stream",
        _ => "gateway",
    };

    /// <summary><c>idle-client &lt;port&gt; &lt;sockets&gt; [settle seconds] [gateway|raw|raw+details|raw-stream] [warm sockets]</c>.</summary>
    public static async Task<int> ClientAsync(string[] args)
    {
        var port = int.Parse(args[1], CultureInfo.InvariantCulture);
        var count = int.Parse(args[2], CultureInfo.InvariantCulture);
        var settle = TimeSpan.FromSeconds(args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 5);
        var mode = args.Length > 4 ? args[4] : "gateway";
        var warm = Math.Max(1, args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 1);
        var url = new Uri($"ws://127.0.0.1:{port}/idle");

        // The orchestrator never writes to stdin: its end means the orchestrator is gone.
        ChildProcess.ExitWhenParentGoes();
        return mode switch
        {
            "raw" => await RawClientAsync(url, count, settle, warm, collectResponseDetails: false).ConfigureAwait(false),
            "raw+details" => await RawClientAsync(url, count, settle, warm, collectResponseDetails: true).ConfigureAwait(false),
            "raw-stream" => await RawClientAsync(url, count, settle, warm, collectResponseDetails: false, overStream: true).ConfigureAwait(false),
            _ => await GatewayClientAsync(url, count, settle, warm).ConfigureAwait(false),
        };
    }

    /// <summary>A gateway host with <paramref name="warm"/> sockets, measured; then a configuration reload adds the sockets; all connected and settled, measured again.</summary>
    private static async Task<int> GatewayClientAsync(Uri url, int count, TimeSpan settle, int warm)
    {
        // Warm sockets first, in the baseline: with one, the host and the handler are warm but the connect path still
        // runs its first (unoptimised) code and is compiled again while the sockets connect; with 100 (the default),
        // it has been called often enough for the JIT's tiers, so the growth is what each socket costs.
        var host = await GatewayHost.StartAsync(GatewayHost.Configuration(url, 1, "warm")).ConfigureAwait(false);
        await using (host.ConfigureAwait(false))
        {
            await host.Counter.WaitForConnectedAsync(1, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            for (var round = 1; round <= WarmRounds && warm > 1; round++)
            {
                // In rounds a second apart: the JIT starts counting calls (towards its optimised tiers) only once no new
                // method has been compiled for 100 ms, which is never the case while the first sockets start.
                await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                var connected = WarmAfter(warm, round);
                host.Reload(GatewayHost.Configuration(url, connected, "warm"));
                await host.Counter.WaitForConnectedAsync(connected, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }

            await Task.Delay(settle).ConfigureAwait(false);
            var before = MemorySnapshot.Take();
            var mappingsBefore = MemorySnapshot.ResidentByMapping();
            await HoldForInspectionAsync("GATEWAY_BENCH_IDLE_PAUSE", "before the reload").ConfigureAwait(false);

            // The reload is applied (bound, validated, every worker created and started) before the sockets connect.
            var supervisor = host.Services.GetRequiredService<SocketSupervisor>();
            var applySeconds = double.NaN;
            var connecting = Stopwatch.StartNew();
            void Applied(SocketOptionsDiff? diff) => applySeconds = connecting.Elapsed.TotalSeconds;
            supervisor.ReloadProcessed += Applied;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            using var sampler = AllocationSampler.StartIfAsked();

            // No local keeps the dictionary: the provider's copy is the only configuration retained.
            host.Reload(GatewayHost.Configuration(url, count, "s", GatewayHost.Configuration(url, warm, "warm")));
            string? failure = null;
            try
            {
                await host.Counter.WaitForConnectedAsync(count + warm, TimeSpan.FromMinutes(4)).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                failure = ex.Message;
            }

            var connectSeconds = connecting.Elapsed.TotalSeconds;
            var connectCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            ReportAllocations(sampler);
            supervisor.ReloadProcessed -= Applied;
            await Task.Delay(settle).ConfigureAwait(false);
            var after = MemorySnapshot.Take();
            WriteResult("gateway", count, connectSeconds, before, after, failure, connectCpu, allocated, applySeconds);
            ReportMappings(mappingsBefore, count);
            await HoldForInspectionAsync("GATEWAY_BENCH_IDLE_HOLD", "with the sockets open").ConfigureAwait(false);
            var logs = host.Logs.TakeSummary();
            if (logs.Length > 0 && Program.Verbose)
            {
                await Console.Error.WriteLineAsync("idle gateway log:" + logs).ConfigureAwait(false);
            }
        }

        return 0;
    }

    /// <summary>
    /// The baseline: plain <see cref="ClientWebSocket"/>s over one shared <see cref="HttpMessageInvoker"/>
    /// (as the gateway's connector), keep-alive as the gateway's defaults, each parked in a zero-byte
    /// <c>ReceiveAsync</c> as the gateway's receive loop does.
    /// </summary>
    private static async Task<int> RawClientAsync(Uri url, int count, TimeSpan settle, int warm, bool collectResponseDetails, bool overStream = false)
    {
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        });
        using var stop = new CancellationTokenSource();
        var sockets = new List<WebSocket>(count + warm);
        var readers = new List<Task>(count + warm);
        async Task ConnectAsync()
        {
            if (overStream)
            {
                var plain = await ConnectOverStreamAsync(url).ConfigureAwait(false);
                lock (sockets)
                {
                    sockets.Add(plain);
                    readers.Add(ParkAsync(plain, stop.Token));
                }

                return;
            }

            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
            socket.Options.KeepAliveTimeout = TimeSpan.FromSeconds(10);
            socket.Options.CollectHttpResponseDetails = collectResponseDetails;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await socket.ConnectAsync(url, invoker, timeout.Token).ConfigureAwait(false);
            lock (sockets)
            {
                sockets.Add(socket);
                readers.Add(ParkAsync(socket, stop.Token));
            }
        }

        // As the gateway's warm-up: one socket, then the rest in rounds a second apart.
        await ConnectAsync().ConfigureAwait(false);
        for (var round = 1; round <= WarmRounds && warm > 1; round++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            for (var connected = sockets.Count; connected < WarmAfter(warm, round); connected++)
            {
                await ConnectAsync().ConfigureAwait(false);
            }
        }

        await Task.Delay(settle).ConfigureAwait(false);
        var before = MemorySnapshot.Take();
        var mappingsBefore = MemorySnapshot.ResidentByMapping();
        var connecting = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        using var sampler = AllocationSampler.StartIfAsked();
        string? failure = null;
        try
        {
            // As many handshakes in flight as the gateway allows.
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = WebSocketConnector.MaxConnectsInFlight }, async (_, _) => await ConnectAsync().ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException or IOException or SocketException)
        {
            failure = ex.Message;
        }

        var connectSeconds = connecting.Elapsed.TotalSeconds;
        var connectCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        ReportAllocations(sampler);
        await Task.Delay(settle).ConfigureAwait(false);
        var after = MemorySnapshot.Take();
        WriteResult(overStream ? "raw-stream" : collectResponseDetails ? "raw+details" : "raw", count, connectSeconds, before, after, failure, connectCpu, allocated);
        ReportMappings(mappingsBefore, count);

        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var socket in sockets)
        {
            socket.Abort();
            socket.Dispose();
        }

        return 0;
    }

    /// <summary>The HTTP/1.1 upgrade done by hand over a plain socket, so no HttpConnection stays behind the WebSocket.</summary>
    private static async Task<WebSocket> ConnectOverStreamAsync(Uri url)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, url.Port, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token).ConfigureAwait(false);

            // The idle server sends nothing after its 101, so reading past the header cannot swallow frame bytes.
            var response = new byte[1024];
            var length = 0;
            while (response.AsSpan(0, length).IndexOf("\r\n\r\n"u8) < 0)
            {
                var read = await stream.ReadAsync(response.AsMemory(length), timeout.Token).ConfigureAwait(false);
                if (read == 0 || (length += read) == response.Length)
                {
                    throw new IOException("bad handshake response");
                }
            }

            var text = Encoding.ASCII.GetString(response, 0, length);
            if (!text.StartsWith("HTTP/1.1 101", StringComparison.Ordinal) || !text.Contains(WebSocketWire.ComputeAccept(key), StringComparison.Ordinal))
            {
                throw new IOException("handshake refused: " + text);
            }

            return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
            {
                IsServer = false,
                KeepAliveInterval = TimeSpan.FromSeconds(30),
                KeepAliveTimeout = TimeSpan.FromSeconds(10),
            });
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task ParkAsync(WebSocket socket, CancellationToken token)
    {
        byte[]? scratch = null; // only if a message ever arrives: idle sockets hold no buffer
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                while (!result.EndOfMessage)
                {
                    scratch ??= new byte[256];
                    result = await socket.ReceiveAsync(scratch.AsMemory(), token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// For <c>dotnet-gcdump</c> or <c>perf</c> on an <c>idle-client</c> run by hand: <c>GATEWAY_BENCH_IDLE_PAUSE=&lt;seconds&gt;</c>
    /// waits before the reload (to attach a profiler), <c>GATEWAY_BENCH_IDLE_HOLD=&lt;seconds&gt;</c> keeps the sockets open
    /// after the result; at most an hour each.
    /// </summary>
    private static async Task HoldForInspectionAsync(string variable, string when)
    {
        if (double.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"waiting {seconds} s {when} (pid {Environment.ProcessId})")).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(seconds, 3600))).ConfigureAwait(false);
        }
    }

    /// <summary>Warm sockets connected after <paramref name="round"/> of <see cref="WarmRounds"/>: one at first, all of them after the last.</summary>
    private static int WarmAfter(int warm, int round) => 1 + ((warm - 1) * round / WarmRounds);

    private static void ReportAllocations(AllocationSampler? sampler)
    {
        if (sampler is not null)
        {
            Console.Error.WriteLine("    allocated while connecting (sampled): " + AllocationSampler.Describe(sampler.Stop(), 15));
        }
    }

    private static void ReportMappings(Dictionary<string, long> before, int count)
    {
        if (!Program.Verbose)
        {
            return;
        }

        var after = MemorySnapshot.ResidentByMapping();
        var growth = after.Select(e => (e.Key, Kb: e.Value - before.GetValueOrDefault(e.Key))).Where(e => e.Kb != 0).OrderByDescending(e => Math.Abs(e.Kb)).Take(6);
        Console.Error.WriteLine("    RSS growth by mapping (B/socket): " + string.Join(", ", growth.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Key} {e.Kb * 1024.0 / count:N0}"))));
    }

    private static void WriteResult(string mode, int count, double connectSeconds, MemorySnapshot before, MemorySnapshot after, string? failure, double connectCpuSeconds, long allocatedBytes, double applySeconds = double.NaN)
    {
        var sockets = (double)count;
        Console.WriteLine(string.Join(
            '\t',
            ResultPrefix.TrimEnd(),
            mode,
            count.ToString(CultureInfo.InvariantCulture),
            connectSeconds.ToString("R", CultureInfo.InvariantCulture),
            ((after.Managed - before.Managed) / sockets).ToString("R", CultureInfo.InvariantCulture),
            ((after.WorkingSet - before.WorkingSet) / sockets).ToString("R", CultureInfo.InvariantCulture),
            ((after.Committed - before.Committed) / sockets).ToString("R", CultureInfo.InvariantCulture),
            before.Threads.ToString(CultureInfo.InvariantCulture),
            after.Threads.ToString(CultureInfo.InvariantCulture),
            failure?.Replace('\t', ' ') ?? "-",
            connectCpuSeconds.ToString("R", CultureInfo.InvariantCulture),
            applySeconds.ToString("R", CultureInfo.InvariantCulture),
            (allocatedBytes / sockets).ToString("R", CultureInfo.InvariantCulture)));
    }

    private static IdleResult ParseResult(string line)
    {
        var f = line.Split('\t');
        double D(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        int I(int i) => int.Parse(f[i], CultureInfo.InvariantCulture);
        return new IdleResult(f[0], I(1), D(2), D(3), D(4), D(5), I(6), I(7), f[8] == "-" ? null : f[8], D(9), D(10), D(11));
    }
}

/// <summary>Managed heap after full compacting collections, resident set size, GC committed bytes and threads.</summary>
internal readonly record struct MemorySnapshot(long Managed, long WorkingSet, long Committed, int Threads)
{
    /// <summary>Diagnostic (<c>--verbose</c>): resident kB by mapping kind from /proc/self/smaps.</summary>
    public static Dictionary<string, long> ResidentByMapping()
    {
        var result = new Dictionary<string, long>();
        try
        {
            var kind = "?";
            foreach (var line in File.ReadLines("/proc/self/smaps"))
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && line.AsSpan(0, space).Contains('-') && !line.AsSpan(0, space).Contains(':'))
                {
                    var header = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    kind = header.Length >= 6 ? header[5] : "[anon " + header[1] + "]";
                }
                else if (line.StartsWith("Rss:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                    result[kind] = result.GetValueOrDefault(kind) + kb;
                }
            }
        }
        catch (IOException)
        {
        }

        return result;
    }

    public static MemorySnapshot Take()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var managed = GC.GetTotalMemory(forceFullCollection: true);
        var committed = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        Thread.Sleep(200);
        var (rss, threads) = ReadProcStatus();
        return new MemorySnapshot(managed, rss, committed, threads);
    }

    private static (long Rss, int Threads) ReadProcStatus()
    {
        long rss = Environment.WorkingSet;
        var threads = 0;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // Not Linux: Environment.WorkingSet it is.
        }

        return (rss, threads);
    }
}
