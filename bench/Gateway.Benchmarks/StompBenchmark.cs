using System.Diagnostics;
using System.Globalization;
using Gateway.Testing;

namespace Gateway.Benchmarks;

/// <summary>
/// <c>stomp [count]</c>: broker to no-op handler through the gateway's STOMP session, against the
/// RabbitMQ that <c>.ci/rabbitmq.sh</c> runs on 127.0.0.1. For each acknowledgement mode a durable
/// queue is filled with <c>count</c> persistent messages first, then one gateway socket subscribes
/// and drains it: frames/s from the first frame to the last, and the gateway process's CPU per
/// frame. The broker shares the machine, so this measures the pair, not the gateway alone.
/// </summary>
internal static class StompBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
        await using var broker = await RabbitMqBroker.RequireAsync().ConfigureAwait(false);
        var rows = new List<string>();
        foreach (var ack in new[] { "auto", "client-individual", "auto", "client-individual" })
        {
            var queue = await broker.DeclareQueueAsync("bench").ConfigureAwait(false);
            await broker.PublishManyAsync(queue, count, i => string.Create(CultureInfo.InvariantCulture, $"{{\"seq\":{i},\"price\":101.25}}")).ConfigureAwait(false);
            var configuration = GatewayHost.Configuration(RabbitMqBroker.WebStompUrl, 1);
            configuration["Gateway:Sockets:s0:Protocol"] = "Stomp";
            configuration["Gateway:Sockets:s0:Stomp:Login"] = RabbitMqBroker.Login;
            configuration["Gateway:Sockets:s0:Stomp:Passcode"] = RabbitMqBroker.Passcode;
            configuration["Gateway:Sockets:s0:Stomp:Subscriptions:0:Destination"] = $"/queue/{queue}";
            configuration["Gateway:Sockets:s0:Stomp:Subscriptions:0:Ack"] = ack;

            await using var gateway = await GatewayHost.StartAsync(configuration).ConfigureAwait(false);
            var all = gateway.Counter.Arm(count);
            var deadline = Stopwatch.StartNew();
            while (gateway.Counter.Count == 0 && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(1).ConfigureAwait(false);
            }

            var cpu = Environment.CpuUsage.TotalTime;
            var clock = Stopwatch.StartNew();
            await all.WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            var seconds = clock.Elapsed.TotalSeconds;
            var cpuPerFrame = (Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / (count - 1);
            var row = string.Create(CultureInfo.InvariantCulture, $"| {ack} | {count:N0} | {(count - 1) / seconds:N0} | {cpuPerFrame:N1} |");
            Console.WriteLine(row);
            rows.Add(row);
        }

        Console.WriteLine();
        Console.WriteLine("| ack | messages | frames/s | gateway CPU us/frame |");
        Console.WriteLine("|---|---:|---:|---:|");
        rows.ForEach(Console.WriteLine);
        return 0;
    }
}
