using System.Diagnostics;
using System.Globalization;
using System.Net;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Benchmarks;

/// <summary>
/// <c>sinks [count] [sink...] [--latency ms]</c>: a raw flood of <c>count</c> 200-byte text frames through one gateway socket
/// into each sink (<c>rabbitmq</c>: persistent, publisher confirms, a durable queue; <c>redis-stream</c>:
/// <c>XADD MAXLEN ~</c>), with <c>Queue:MaxInFlight</c> 1 (<c>count</c>/10 frames) and 256, after a
/// warm-up run: frames/s from the first frame to the last one the sink confirmed (the socket's
/// handled count), and CPU per frame of this process (gateway and flood server) and of the sink's server. Needs <c>.ci/rabbitmq.sh</c> and
/// <c>.ci/redis.sh</c> running on 127.0.0.1; the servers share the machine.
/// </summary>
internal static class SinkBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var latency = Array.IndexOf(args, "--latency") is var at and > 0 ? TimeSpan.FromMilliseconds(double.Parse(args[at + 1], CultureInfo.InvariantCulture)) : TimeSpan.Zero;
        var positional = args.Where((a, i) => i > 0 && !a.StartsWith("--", StringComparison.Ordinal) && args[i - 1] != "--latency").ToArray();
        var count = positional.Length > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 20_000;
        var sinks = positional.Length > 1 ? positional[1..] : ["rabbitmq", "redis-stream"];
        await using var broker = await RabbitMqBroker.RequireAsync().ConfigureAwait(false);
        await using var redis = await RedisServer.RequireAsync().ConfigureAwait(false);

        // With --latency, each sink reaches its server through a proxy that delays each direction.
        var amqp = RabbitMqBroker.AmqpUrl;
        var redisEndpoint = IPEndPoint.Parse(RedisServer.Endpoint);
        await using var amqpProxy = latency > TimeSpan.Zero ? LatencyProxy.Start(new IPEndPoint(IPAddress.Loopback, amqp.Port), latency) : null;
        await using var redisProxy = latency > TimeSpan.Zero ? LatencyProxy.Start(redisEndpoint, latency) : null;
        var amqpUri = $"amqp://{RabbitMqBroker.Login}:{RabbitMqBroker.Passcode}@127.0.0.1:{amqpProxy?.Port ?? amqp.Port}/";
        var redisConfiguration = redisProxy is null ? RedisServer.Endpoint : $"127.0.0.1:{redisProxy.Port}";
        Console.WriteLine(latency > TimeSpan.Zero ? $"one-way delay to each sink's server: {latency.TotalMilliseconds} ms" : "sinks on loopback");
        await using var server = await BenchServer.StartAsync(0, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        var rows = new List<string>();
        foreach (var sink in sinks)
        {
            // A warm-up run first (not reported: the JIT's tiers settle), then two rounds of 1 and 256.
            foreach (var (inFlight, reported) in new[] { (256, false), (1, true), (256, true), (1, true), (256, true) })
            {
                var frames = !reported ? count / 4 : inFlight == 1 ? count / 10 : count; // one confirm at a time is slow: fewer frames
                var session = await server.CreateSessionAsync(200, binary: false, [frames]).ConfigureAwait(false);
                var configuration = GatewayHost.Configuration(session.Url, 1);
                configuration["Gateway:Sockets:s0:Handlers:0"] = sink;
                configuration["Gateway:Sockets:s0:Queue:MaxInFlight"] = inFlight.ToString(CultureInfo.InvariantCulture);
                var queue = await broker.DeclareQueueAsync("sink-bench").ConfigureAwait(false);
                var key = redis.NewKey("sink-bench");
                configuration["Gateway:Handlers:rabbitmq:RoutingKey"] = queue;
                configuration["Gateway:Handlers:rabbitmq:Uri"] = amqpUri;
                configuration["Gateway:Handlers:redis-stream:Configuration"] = redisConfiguration;
                configuration["Gateway:Handlers:redis-stream:Key"] = key;

                await using var gateway = await GatewayHost.StartAsync(configuration).ConfigureAwait(false);
                var tracker = gateway.Services.GetRequiredService<SocketHealthTracker>();
                long Handled() => tracker.TryGet("s0", out var status) ? status.Snapshot().FramesHandled : 0;
                var deadline = Stopwatch.StartNew();
                while (await server.ConnectedAsync(session).ConfigureAwait(false) == 0 && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(10).ConfigureAwait(false);
                }

                server.Go(session, 0);
                while (Handled() == 0 && deadline.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(1).ConfigureAwait(false);
                }

                var serverProcess = sink == "rabbitmq" ? "beam.smp" : "redis-server";
                var (ownCpu, serverCpu) = (Process.GetCurrentProcess().TotalProcessorTime, CpuOf(serverProcess));
                var clock = Stopwatch.StartNew();
                while (Handled() < frames && clock.Elapsed < TimeSpan.FromSeconds(180))
                {
                    await Task.Delay(5).ConfigureAwait(false);
                }

                var seconds = clock.Elapsed.TotalSeconds;
                ownCpu = Process.GetCurrentProcess().TotalProcessorTime - ownCpu;
                serverCpu = CpuOf(serverProcess) - serverCpu;
                if (tracker.TryGet("s0", out var final) && final.Snapshot() is { } snapshot && snapshot.FramesHandled < frames)
                {
                    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(snapshot));
                    foreach (var health in gateway.Services.GetServices<ISinkHealth>())
                    {
                        Console.WriteLine($"sink {health.Name}: {health.State} in flight {health.InFlight}, confirmed {health.Confirmed}, failed {health.Failed}");
                    }
                }

                var handled = Handled();
                var row = string.Create(CultureInfo.InvariantCulture, $"| {sink} | {inFlight} | {handled:N0} of {frames:N0} | {(handled - 1) / seconds:N0} | {ownCpu.TotalMicroseconds / handled:N1} | {serverCpu.TotalMicroseconds / handled:N1} |");
                Console.WriteLine(reported ? row : $"(warm-up) {row}");
                if (reported)
                {
                    rows.Add(row);
                }

                await server.RemoveSessionAsync(session).ConfigureAwait(false);
            }
        }

        Console.WriteLine();
        Console.WriteLine("| sink | Queue:MaxInFlight | frames confirmed | frames/s | gateway + flood CPU us/frame | server CPU us/frame |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>CPU time of every process whose /proc comm is <paramref name="name"/> (the sink's server; redis rewrites its command line, so not Process.GetProcessesByName).</summary>
    private static TimeSpan CpuOf(string name)
    {
        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (!char.IsAsciiDigit(Path.GetFileName(directory)[0]) || File.ReadAllText(Path.Combine(directory, "comm")).TrimEnd() != name)
                {
                    continue;
                }

                // stat: utime and stime are fields 14 and 15, in clock ticks (100 Hz), after "(comm)".
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
        }

        return TimeSpan.FromMilliseconds(ticks * 10);
    }
}
