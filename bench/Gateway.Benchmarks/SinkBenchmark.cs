using System.Diagnostics;
using System.Globalization;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Benchmarks;

/// <summary>
/// <c>sinks [count]</c>: a raw flood of <c>count</c> 200-byte text frames through one gateway socket
/// into each sink (<c>rabbitmq</c>: persistent, publisher confirms, a durable queue; <c>redis-stream</c>:
/// <c>XADD MAXLEN ~</c>), with <c>Queue:MaxInFlight</c> 1 and 256: frames/s from the first frame to
/// the last one the sink confirmed (the socket's handled count). Needs <c>.ci/rabbitmq.sh</c> and
/// <c>.ci/redis.sh</c> running on 127.0.0.1; the servers share the machine.
/// </summary>
internal static class SinkBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        await using var broker = await RabbitMqBroker.RequireAsync().ConfigureAwait(false);
        await using var redis = await RedisServer.RequireAsync().ConfigureAwait(false);
        await using var server = await BenchServer.StartAsync(0, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        var rows = new List<string>();
        foreach (var sink in new[] { "rabbitmq", "redis-stream" })
        {
            foreach (var inFlight in new[] { 1, 256 })
            {
                var frames = inFlight == 1 ? Math.Min(count, 5_000) : count; // one confirm at a time is slow: fewer frames
                var session = await server.CreateSessionAsync(200, binary: false, [frames]).ConfigureAwait(false);
                var configuration = GatewayHost.Configuration(session.Url, 1);
                configuration["Gateway:Sockets:s0:Handlers:0"] = sink;
                configuration["Gateway:Sockets:s0:Queue:MaxInFlight"] = inFlight.ToString(CultureInfo.InvariantCulture);
                var queue = await broker.DeclareQueueAsync("sink-bench").ConfigureAwait(false);
                var key = redis.NewKey("sink-bench");
                configuration["Gateway:Handlers:rabbitmq:RoutingKey"] = queue;
                configuration["Gateway:Handlers:redis-stream:Configuration"] = RedisServer.Endpoint;
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

                var clock = Stopwatch.StartNew();
                while (Handled() < frames && clock.Elapsed < TimeSpan.FromSeconds(args.Length > 2 ? 10 : 180))
                {
                    await Task.Delay(5).ConfigureAwait(false);
                }

                var seconds = clock.Elapsed.TotalSeconds;
                if (tracker.TryGet("s0", out var final) && final.Snapshot() is { } snapshot && snapshot.FramesHandled < frames)
                {
                    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(snapshot));
                    foreach (var health in gateway.Services.GetServices<ISinkHealth>())
                    {
                        Console.WriteLine($"sink {health.Name}: {health.State} in flight {health.InFlight}, confirmed {health.Confirmed}, failed {health.Failed}");
                    }
                }

                var handled = Handled();
                var row = string.Create(CultureInfo.InvariantCulture, $"| {sink} | {inFlight} | {handled:N0} of {frames:N0} | {(handled - 1) / seconds:N0} |");
                Console.WriteLine(row);
                rows.Add(row);
                await server.RemoveSessionAsync(session).ConfigureAwait(false);
            }
        }

        Console.WriteLine();
        Console.WriteLine("| sink | Queue:MaxInFlight | frames confirmed | frames/s |");
        Console.WriteLine("|---|---:|---:|---:|");
        rows.ForEach(Console.WriteLine);
        return 0;
    }
}
