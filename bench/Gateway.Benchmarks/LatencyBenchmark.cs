using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Gateway.Benchmarks;

/// <summary>
/// Receive-to-handler latency, recorded by the benchmark's handler: from the frame's receive timestamp (taken when
/// the read that brought it in completed, <see cref="Frame.Timestamp"/>) to the handler's call. Every frame of the
/// measured phase is recorded (no sampling); one slot per frame, claimed with one interlocked increment.
/// </summary>
internal sealed class LatencyRecorder
{
    private long[] _samples = [];
    private int _next;
    private volatile bool _active;

    public bool Active => _active;

    public void Start(int frames)
    {
        _samples = new long[frames];
        _next = 0;
        _active = true;
    }

    public void Record(long receivedTimestamp)
    {
        var elapsed = Stopwatch.GetTimestamp() - receivedTimestamp;
        var slot = Interlocked.Increment(ref _next) - 1;
        if (slot < _samples.Length)
        {
            _samples[slot] = elapsed;
        }
    }

    /// <summary>Stops recording; the latencies in microseconds, sorted.</summary>
    public double[] Stop()
    {
        _active = false;
        var count = Math.Min(Volatile.Read(ref _next), _samples.Length);
        var micros = _samples.Take(count).Select(t => t * 1e6 / Stopwatch.Frequency).ToArray();
        Array.Sort(micros);
        return micros;
    }
}

/// <summary>
/// <c>--latency</c>: after the throughput rows, each gateway configuration again at half its measured rate, paced by
/// the server (a burst about every millisecond), with every frame's receive-to-handler latency in a histogram.
/// </summary>
internal static class LatencyBenchmark
{
    private static readonly double[] s_bucketsMicros = [5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000];

    public static async Task<string> RunAsync(IFloodServer server, bool binary, int sockets, int size, double maxRate, TimeSpan timeout)
    {
        var perConnection = maxRate / 2 / sockets;
        var warm = Math.Max(1, (long)perConnection);          // ~1 s
        var measured = Math.Max(1, (long)(perConnection * 3)); // ~3 s
        var session = await server.CreateSessionAsync(size, binary, [warm, measured], perConnection).ConfigureAwait(false);
        try
        {
            var host = await GatewayHost.StartAsync(GatewayHost.Configuration(session.Url, sockets)).ConfigureAwait(false);
            await using (host.ConfigureAwait(false))
            {
                await host.Counter.WaitForConnectedAsync(sockets, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                while (await server.ConnectedAsync(session).ConfigureAwait(false) < sockets)
                {
                    await Task.Delay(10).ConfigureAwait(false);
                }

                var warmed = host.Counter.Arm(warm * sockets);
                server.Go(session, 0);
                await warmed.WaitAsync(timeout).ConfigureAwait(false);

                host.Latency.Start((int)Math.Min(measured * sockets, 50_000_000));
                var done = host.Counter.Arm(measured * sockets);
                var started = Stopwatch.GetTimestamp();
                server.Go(session, 1);
                await done.WaitAsync(timeout).ConfigureAwait(false);
                var elapsed = Stopwatch.GetElapsedTime(started);
                return Describe(sockets, size, maxRate, measured * sockets / elapsed.TotalSeconds, host.Latency.Stop());
            }
        }
        catch (TimeoutException ex)
        {
            return string.Create(CultureInfo.InvariantCulture, $"| {sockets} | {Tables.Size(size)} | FAILED: {ex.Message} |");
        }
        finally
        {
            await server.RemoveSessionAsync(session).ConfigureAwait(false);
        }
    }

    public static string Header()
        => "| sockets | payload | rate (max / paced) frames/s | p50 us | p90 us | p99 us | p99.9 us | max us | frames by latency (<=5 / 10 / 20 / 50 / 100 / 200 / 500 us, 1 / 2 / 5 / 10 / 50 ms, more) |"
            + Environment.NewLine + "|---:|---:|---:|---:|---:|---:|---:|---:|---|";

    private static string Describe(int sockets, int size, double maxRate, double pacedRate, double[] micros)
    {
        if (micros.Length == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"| {sockets} | {Tables.Size(size)} | no frames recorded |");
        }

        double At(double quantile) => micros[Math.Min(micros.Length - 1, (int)(quantile * micros.Length))];
        var counts = new long[s_bucketsMicros.Length + 1];
        foreach (var micro in micros)
        {
            var bucket = Array.FindIndex(s_bucketsMicros, edge => micro <= edge);
            counts[bucket < 0 ? s_bucketsMicros.Length : bucket]++;
        }

        var histogram = new StringBuilder();
        histogram.AppendJoin(" / ", counts.Select(c => c.ToString("N0", CultureInfo.InvariantCulture)));
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {sockets} | {Tables.Size(size)} | {maxRate:N0} / {pacedRate:N0} | {At(0.5):N1} | {At(0.9):N1} | {At(0.99):N1} | {At(0.999):N1} | {micros[^1]:N1} | {histogram} |");
    }
}
