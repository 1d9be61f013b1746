using System.Net;
using System.Text.Json;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>
/// End-to-end acknowledgement against a real RabbitMQ: a gateway process killed with SIGKILL
/// mid-stream loses nothing, because a message is acknowledged only after the file handler wrote it.
/// </summary>
[Collection(nameof(SharedBroker))]
public sealed class StompNoLossTests
{
    private const int Messages = 10_000;

    [Fact]
    public async Task Process_KilledMidStreamThenRestarted_EveryMessageInTheFileDuplicatesCounted()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("kill9");
        await broker.PublishManyAsync(queue, Messages, i => $"m{i}");
        var output = Directory.CreateTempSubdirectory("gateway-kill9-");
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["Gateway__Sockets__demo__Enabled"] = "false",
                ["Gateway__Sockets__q__Url"] = RabbitMqBroker.WebStompUrl.ToString(),
                ["Gateway__Sockets__q__Protocol"] = "Stomp",
                ["Gateway__Sockets__q__Stomp__Login"] = RabbitMqBroker.Login,
                ["Gateway__Sockets__q__Stomp__Passcode"] = RabbitMqBroker.Passcode,
                ["Gateway__Sockets__q__Stomp__Subscriptions__0__Destination"] = $"/queue/{queue}",
                ["Gateway__Sockets__q__Stomp__Subscriptions__0__Ack"] = "client-individual",
                ["Gateway__Sockets__q__Handlers__0"] = "file",
                ["Gateway__Handlers__file__Directory"] = output.FullName,
                ["Serilog__MinimumLevel__Default"] = "Warning",
            };
            var file = Path.Combine(output.FullName, "q.jsonl");

            // First life: killed once a fifth of the stream is in the file.
            await using (var first = GatewayProcess.Start(environment))
            {
                await Eventually.TrueAsync(() => GatewayProcess.ReadLines(file).Count >= Messages / 5, "the first process is consuming", TimeSpan.FromSeconds(60));
                await first.KillAsync();
            }

            var atKill = GatewayProcess.ReadLines(file).Count;
            Assert.True(atKill < Messages, $"the kill came mid-stream ({atKill} of {Messages} written)");

            // Second life: the broker redelivers what was not acknowledged.
            await using var second = GatewayProcess.Start(environment);
            await Eventually.TrueAsync(() => Distinct(file).Count == Messages, "every message is in the file", TimeSpan.FromSeconds(120));
            await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0, TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, second.Get("/health/ready"));

            var lines = GatewayProcess.ReadLines(file).Count;
            var distinct = Distinct(file);
            Assert.Equal(Enumerable.Range(1, Messages).Select(i => $"m{i}").ToHashSet(), distinct);
            TestContext.Current.TestOutputHelper?.WriteLine($"kill -9 after {atKill} lines; {lines} lines in all, {distinct.Count} distinct, {lines - distinct.Count} duplicates (redelivered)");
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Broker_RestartedMidStream_GatewayResubscribesOnItsOwnAndNothingIsLost()
    {
        const int count = 3_000;
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("restart");
        await broker.PublishManyAsync(queue, count, i => $"r{i}");
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("q", RabbitMqBroker.WebStompUrl,
                ("Protocol", "Stomp"), ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", RabbitMqBroker.Passcode),
                ("Stomp:Subscriptions:0:Destination", $"/queue/{queue}"), ("Handlers:0", RecordingFrameHandler.Name), ("Handlers:1", SlowHandler.Name)),
            services => services.AddFrameHandler<SlowHandler>(SlowHandler.Name));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count >= count / 6, "consuming", TimeSpan.FromSeconds(30));

        await RabbitMqBroker.RestartAsync();

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Select(f => f.Text).Distinct().Count() == count, "every message arrived", TimeSpan.FromSeconds(120));
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0, TimeSpan.FromSeconds(30));
        var frames = gateway.Recorder.Frames.ToList();
        Assert.True(frames[^1].Connection >= 2, "the last messages came over a new connection");
        Assert.Equal(Gateway.Host.Health.SocketState.Ready, gateway.Status("q").State);
        Assert.Equal(Enumerable.Range(1, count).Select(i => $"r{i}").ToHashSet(), frames.Select(f => f.Text).ToHashSet());
        TestContext.Current.TestOutputHelper?.WriteLine($"broker restart after {count / 6}+ frames: {frames.Count} delivered, {count} distinct, {frames.Count - count} duplicates, {frames[^1].Connection} connections");
    }

    /// <summary>About a millisecond a frame, so that a stream is still flowing when the broker restarts.</summary>
    private sealed class SlowHandler : IFrameHandler
    {
        public const string Name = "slow";

        public async ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken) => await Task.Delay(1, cancellationToken);
    }

    private static HashSet<string> Distinct(string file)
        => [.. GatewayProcess.ReadLines(file).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!)];
}
