using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Gateway.Host.Health;
using Gateway.IntegrationTests.Protocols.Stomp;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Gateway.IntegrationTests.Handlers;

/// <summary>
/// The <c>rabbitmq</c> sink against the real broker, called directly (not through the dispatcher)
/// with a settler that records how each frame was settled.
/// </summary>
[Collection(nameof(SharedBroker))]
public sealed class RabbitMqSinkTests
{
    private static readonly DateTimeOffset s_receivedAt = new(2024, 5, 1, 12, 30, 45, TimeSpan.Zero);
    private static readonly TimeSpan s_settleTimeout = TimeSpan.FromSeconds(60);
    private static readonly string s_uri = $"amqp://{RabbitMqBroker.Login}:{RabbitMqBroker.Passcode}@{RabbitMqBroker.AmqpUrl.Host}:{RabbitMqBroker.AmqpUrl.Port}/";

    private readonly UpstreamConnection _connection = new("prices", 3, new Uri("ws://upstream/"), "v12.stomp", DateTimeOffset.UnixEpoch);
    private readonly Settler _settler = new();
    private readonly FakeLogCollector _logs = new();

    [Fact]
    public async Task HandleAsync_ThousandFramesInFlight_AllConfirmedQueuedInOrderWithPropertiesAndHeaders()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("sink");
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = s_uri, RoutingKey = queue });
        const string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

        await sink.HandleAsync(StompFrame(1, "{\"p\":1}", $"destination:/queue/in\nmessage-id:m-1\ncontent-type:application/json\ntraceparent:{traceparent}\nsubscription:0\nsubscription:9\nx-gateway-seq:spoofed\n"), TestContext.Current.CancellationToken);
        await sink.HandleAsync(Frame(2, FrameKind.Binary, [0, 1, 2, 255], default), TestContext.Current.CancellationToken);
        var maxInFlight = 0L;
        for (var seq = 3; seq <= 1000; seq++)
        {
            await sink.HandleAsync(StompFrame(seq, $"frame {seq}", $"destination:/queue/in\nmessage-id:m-{seq}\n"), TestContext.Current.CancellationToken);
            maxInFlight = Math.Max(maxInFlight, sink.InFlight);
        }

        Assert.True(maxInFlight > 1, "HandleAsync returns before the confirmation, so frames are in flight together");
        var outcomes = await _settler.AllAsync(1000, s_settleTimeout);
        Assert.All(outcomes, o => Assert.Null(o.Value));
        Assert.Equal((0L, 1000L, 0L, SinkState.Up), (sink.InFlight, sink.Confirmed, sink.Failed, sink.State));
        Assert.Equal(1000u, (await broker.GetReadyAsync(queue)).Ready);
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 1000, unacked: 0);

        await using var amqp = await Amqp.OpenAsync();
        var first = await amqp.GetAsync(queue);
        Assert.Equal("{\"p\":1}", Encoding.UTF8.GetString(first.Body.Span));
        var properties = first.BasicProperties;
        Assert.Equal(("application/json", "m-1", DeliveryModes.Persistent), (properties.ContentType, properties.MessageId, properties.DeliveryMode));
        Assert.Equal(s_receivedAt.ToUnixTimeSeconds(), properties.Timestamp.UnixTime);
        var headers = properties.Headers ?? throw new InvalidOperationException("no headers");
        Assert.Equal("prices", Text(headers["x-gateway-socket"]));
        Assert.Equal(1L, headers["x-gateway-seq"]); // the gateway's own, not the frame's spoofed one
        Assert.Equal(3L, headers["x-gateway-connection"]);
        Assert.Equal(traceparent, Text(headers["traceparent"]));
        Assert.Equal("/queue/in", Text(headers["destination"]));
        Assert.Equal("0", Text(headers["subscription"])); // a repeated header: the first value wins

        var binary = (await amqp.GetAsync(queue)).BasicProperties;
        Assert.Equal(("application/octet-stream", null, 2L), (binary.ContentType, binary.MessageId, binary.Headers?["x-gateway-seq"]));
        var text = await amqp.GetAsync(queue);
        Assert.Equal(("text/plain", "m-3", 3L, "frame 3"), (text.BasicProperties.ContentType, text.BasicProperties.MessageId, text.BasicProperties.Headers?["x-gateway-seq"], Encoding.UTF8.GetString(text.Body.Span)));
    }

    [Fact]
    public async Task HandleAsync_MissingExchangeWithFail_FailsFrameThenNewChannelDeliversLaterFrames()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("sink-fail");
        var exchange = RabbitMqBroker.NewQueueName("sink-exchange");
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = s_uri, Exchange = exchange, RoutingKey = "{socket}.{destination}", OnFailure = SinkFailurePolicy.Fail });

        await sink.HandleAsync(StompFrame(1, "lost", "destination:a\n"), TestContext.Current.CancellationToken);

        var error = await _settler.OutcomeAsync(1, s_settleTimeout);
        Assert.Contains("NOT_FOUND", error?.Message, StringComparison.Ordinal);
        Assert.Contains(exchange, error?.Message, StringComparison.Ordinal);
        Assert.Equal((0L, 0L, 1L, SinkState.Up), (sink.InFlight, sink.Confirmed, sink.Failed, sink.State));
        Assert.Contains("NOT_FOUND", sink.LastError, StringComparison.Ordinal);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 515); // the broker closed the channel

        // The exchange appears: the sink opens a new channel for the next frame.
        await using var amqp = await Amqp.OpenAsync();
        await amqp.Channel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: false, autoDelete: false);
        try
        {
            await amqp.Channel.QueueBindAsync(queue, exchange, "prices.b");
            await sink.HandleAsync(StompFrame(2, "delivered", "destination:b\n"), TestContext.Current.CancellationToken);

            Assert.Null(await _settler.OutcomeAsync(2, s_settleTimeout));
            Assert.Equal("delivered", Encoding.UTF8.GetString((await amqp.GetAsync(queue)).Body.Span));
            Assert.Equal((1L, 1L), (sink.Confirmed, sink.Failed));
            Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 516); // a new channel
        }
        finally
        {
            await amqp.Channel.ExchangeDeleteAsync(exchange);
        }
    }

    [Fact]
    public async Task HandleAsync_NoQueueTakesTheMessageWithFail_FailsWithTheBrokersReturn()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("sink-return");
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = s_uri, RoutingKey = "{destination}", OnFailure = SinkFailurePolicy.Fail });

        await sink.HandleAsync(StompFrame(1, "nowhere", "destination:" + RabbitMqBroker.NewQueueName("absent") + "\n"), TestContext.Current.CancellationToken);
        await sink.HandleAsync(StompFrame(2, "somewhere", "destination:" + queue + "\n"), TestContext.Current.CancellationToken);

        var returned = Assert.IsType<PublishReturnException>(await _settler.OutcomeAsync(1, s_settleTimeout));
        Assert.Equal((312, "NO_ROUTE"), (returned.ReplyCode, returned.ReplyText));
        Assert.Null(await _settler.OutcomeAsync(2, s_settleTimeout)); // a return does not close the channel
        Assert.Equal(1u, (await broker.GetReadyAsync(queue)).Ready);
    }

    [Fact]
    public async Task HandleAsync_FrameWithoutSettler_ReturnsOnceConfirmed()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("sink-awaited");
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = s_uri, RoutingKey = queue });

        // A dispatcher that cannot defer (no settler): the sink confirms within the call instead.
        await sink.HandleAsync(new Frame(_connection, 1, FrameKind.Text, "awaited"u8.ToArray(), s_receivedAt, 0), TestContext.Current.CancellationToken);

        Assert.Equal((0L, 1L), (sink.InFlight, sink.Confirmed));
        Assert.Equal(1u, (await broker.GetReadyAsync(queue)).Ready);
    }

    [Fact]
    public async Task HandleAsync_BrokerRestartMidStreamWithRetry_EveryFrameConfirmedAndHealthDownThenUp()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("sink-restart");
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = s_uri, RoutingKey = queue, MaxRetryDelay = TimeSpan.FromSeconds(1), ConfirmTimeout = TimeSpan.FromSeconds(10) });
        var states = new ConcurrentQueue<SinkState>();
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            var last = (SinkState)(-1);
            while (!watching.IsCancellationRequested)
            {
                if (sink.State != last)
                {
                    last = sink.State;
                    states.Enqueue(last);
                }

                await Task.Delay(5);
            }
        });

        // A frame every 20 ms before, during and after the restart (until 100 frames after it).
        var restarted = new TaskCompletionSource();
        var producer = Task.Run(async () =>
        {
            var seq = 0;
            for (var after = 0; after < 100; after += restarted.Task.IsCompleted ? 1 : 0)
            {
                await sink.HandleAsync(Frame(++seq, FrameKind.Text, Encoding.UTF8.GetBytes($"r{seq}"), default), CancellationToken.None);
                await Task.Delay(20);
            }

            return seq;
        });
        await Eventually.TrueAsync(() => sink.Confirmed >= 50, "the stream is flowing");
        var restart = Stopwatch.StartNew();
        await RabbitMqBroker.RestartAsync();
        restart.Stop();
        restarted.SetResult();
        var count = await producer;

        var outcomes = await _settler.AllAsync(count, TimeSpan.FromSeconds(120));
        await watching.CancelAsync();
        await watcher;
        Assert.All(outcomes, o => Assert.Null(o.Value));
        Assert.Equal((0L, (long)count, 0L, SinkState.Up), (sink.InFlight, sink.Confirmed, sink.Failed, sink.State));
        var seen = states.ToArray();
        var down = Array.IndexOf(seen, SinkState.Down);
        Assert.True(down > 0 && seen.Take(down).Contains(SinkState.Up) && seen.Skip(down).Contains(SinkState.Up), "health went Up, Down, Up: " + string.Join(", ", seen));
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 512); // connection lost
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 514); // recovered
        Assert.Contains("320", _logs.GetSnapshot().First(r => r.Id.Id == 512).Message, StringComparison.Ordinal); // CONNECTION_FORCED: the broker shut down

        // Nothing lost: every frame is in the queue (a frame whose confirmation the restart cut off may be there twice).
        await using var amqp = await Amqp.OpenAsync();
        var sequences = new List<long>();
        while (await amqp.Channel.BasicGetAsync(queue, autoAck: true) is { } message)
        {
            sequences.Add(message.BasicProperties.Headers?["x-gateway-seq"] is long seq ? seq : -1);
        }

        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i).ToHashSet(), sequences.ToHashSet());
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"broker restart ({restart.Elapsed.TotalSeconds:F1} s) mid-stream: {count} frames confirmed, {sequences.Count - count} duplicates in the queue, health {string.Join(" -> ", seen)}");
    }

    [Fact]
    public async Task Throughput_OneInFlightVersus256InFlight()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("sink-throughput");
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = s_uri, RoutingKey = queue });
        var payload = Encoding.UTF8.GetBytes(new string('x', 200));
        await sink.HandleAsync(Frame(0, FrameKind.Text, payload, default), TestContext.Current.CancellationToken); // connect outside the measurement
        await _settler.OutcomeAsync(0, s_settleTimeout);

        var one = await MeasureAsync(sink, first: 1, count: 2_000, inFlight: 1, payload);
        var many = await MeasureAsync(sink, first: 10_001, count: 20_000, inFlight: 256, payload);

        Assert.Equal(22_001L, sink.Confirmed);
        Assert.Equal(22_001u, (await broker.GetReadyAsync(queue)).Ready);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"rabbitmq sink, persistent 200 B frames to a durable queue on 127.0.0.1: 1 in flight {one:F0} frames/s (2,000 frames), 256 in flight {many:F0} frames/s (20,000 frames)");
    }

    private async Task<double> MeasureAsync(RabbitMqSink sink, int first, int count, int inFlight, byte[] payload)
    {
        using var window = new SemaphoreSlim(inFlight);
        var clock = Stopwatch.StartNew();
        for (var seq = first; seq < first + count; seq++)
        {
            await window.WaitAsync(TestContext.Current.CancellationToken);
            _ = _settler.Expect(seq).ContinueWith(_ => window.Release(), TaskScheduler.Default);
            await sink.HandleAsync(Frame(seq, FrameKind.Text, payload, default), TestContext.Current.CancellationToken);
        }

        var outcomes = await _settler.AllAsync(first, count, s_settleTimeout);
        clock.Stop();
        Assert.All(outcomes, o => Assert.Null(o.Value));
        return count / clock.Elapsed.TotalSeconds;
    }

    private RabbitMqSink Sink(RabbitMqSinkOptions options)
        => new(Options.Create(options), new FakeLogger<RabbitMqSink>(_logs), TimeProvider.System);

    private Frame StompFrame(long seq, string body, string headers)
        => Frame(seq, FrameKind.Text, Encoding.UTF8.GetBytes(body), new FrameHeaders(Encoding.UTF8.GetBytes(headers)));

    private Frame Frame(long seq, FrameKind kind, byte[] payload, FrameHeaders headers)
        => new(_connection, seq, kind, payload, headers, s_receivedAt, 0, _settler);

    private static string? Text(object? header) => header is byte[] bytes ? Encoding.UTF8.GetString(bytes) : header?.ToString();

    /// <summary>Records each frame's settlement: null for success, the exception for a failure.</summary>
    private sealed class Settler : IFrameSettler
    {
        private readonly ConcurrentDictionary<long, TaskCompletionSource<Exception?>> _outcomes = new();

        public FrameSettlement Defer(in Frame frame) => new Settlement(Get(frame.Sequence));

        public Task<Exception?> Expect(long seq) => Get(seq).Task;

        public Task<Exception?> OutcomeAsync(long seq, TimeSpan timeout) => Get(seq).Task.WaitAsync(timeout);

        public Task<Dictionary<long, Exception?>> AllAsync(int count, TimeSpan timeout) => AllAsync(1, count, timeout);

        public async Task<Dictionary<long, Exception?>> AllAsync(long first, int count, TimeSpan timeout)
        {
            var tasks = Enumerable.Range(0, count).Select(i => (Seq: first + i, Task: Get(first + i).Task)).ToList();
            try
            {
                await Task.WhenAll(tasks.Select(t => t.Task)).WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                var pending = tasks.Where(t => !t.Task.IsCompleted).Select(t => t.Seq).ToList();
                throw new TimeoutException($"{pending.Count} of {count} frames unsettled after {timeout}, e.g. {string.Join(", ", pending.Take(10))}");
            }

            return tasks.ToDictionary(t => t.Seq, t => t.Task.Result);
        }

        private TaskCompletionSource<Exception?> Get(long seq) => _outcomes.GetOrAdd(seq, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

        private sealed class Settlement(TaskCompletionSource<Exception?> outcome) : FrameSettlement
        {
            public override void Succeed() => outcome.TrySetResult(null);

            public override void Fail(Exception? exception = null) => outcome.TrySetResult(exception ?? new InvalidOperationException("failed"));
        }
    }

    /// <summary>The test's own AMQP connection, to fetch what the sink published and to declare an exchange.</summary>
    private sealed class Amqp(IConnection connection, IChannel channel) : IAsyncDisposable
    {
        public IChannel Channel => channel;

        public static async Task<Amqp> OpenAsync()
        {
            var factory = new ConnectionFactory { Uri = new Uri(s_uri), ClientProvidedName = "gateway-tests-sink" };
            var connection = await factory.CreateConnectionAsync();
            return new Amqp(connection, await connection.CreateChannelAsync());
        }

        public async Task<BasicGetResult> GetAsync(string queue)
            => await channel.BasicGetAsync(queue, autoAck: true) ?? throw new InvalidOperationException($"{queue} is empty");

        public async ValueTask DisposeAsync()
        {
            await channel.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
