using System.Collections.Concurrent;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Gateway.Host.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Tests.Handlers;

/// <summary>The <c>rabbitmq</c> sink without a broker: routing keys, option checks, and keeping the password out of sight.</summary>
public sealed class RabbitMqSinkTests
{
    private static readonly DateTimeOffset s_receivedAt = new(2024, 5, 1, 12, 30, 45, TimeSpan.Zero);

    private static Frame FrameWith(string socket, string headers, Settler? settler = null, long seq = 1)
        => new(new UpstreamConnection(socket, 1, new Uri("ws://h/"), null, DateTimeOffset.UnixEpoch), seq, FrameKind.Text,
            "x"u8.ToArray(), new FrameHeaders(Encoding.UTF8.GetBytes(headers)), s_receivedAt, 0, settler);

    private static FrameTemplate Parse(string template)
    {
        Assert.True(FrameTemplate.TryParse(template, out var parsed, out var error), error);
        return parsed;
    }

    [Theory]
    [InlineData("{socket}", "", "prices")]
    [InlineData("gateway.{socket}.{destination}", "destination:/topic/eu\n", "gateway.prices./topic/eu")]
    [InlineData("{topic}:{event}", "topic:room\\c1\nevent:new_msg\n", "room:1:new_msg")]
    [InlineData("fixed-queue", "destination:/queue/a\n", "fixed-queue")]
    [InlineData("{destination}|{topic}|{event}", "", "||")]
    [InlineData("{destination}", "destination:first\ndestination:second\n", "first")]
    public void Render_Placeholders_FilledFromSocketAndHeaders(string template, string headers, string expected)
        => Assert.Equal(expected, Parse(template).Render(FrameWith("prices", headers)));

    [Theory]
    [InlineData("", "RoutingKey: is empty")]
    [InlineData("   ", "RoutingKey: is empty")]
    [InlineData("{queue}", "unknown placeholder {queue}")]
    [InlineData("a.{socket", "unmatched '{'")]
    [InlineData("a}", "unmatched '}'")]
    [InlineData("{Socket}", "unknown placeholder {Socket}")]
    public void Validate_BadRoutingKey_ErrorNamesTheKey(string template, string expected)
    {
        var errors = RabbitMqSinkOptionsValidator.GetErrors(new RabbitMqSinkOptions { RoutingKey = template });

        var error = Assert.Single(errors);
        Assert.StartsWith("Gateway:Handlers:rabbitmq:RoutingKey: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LiteralLongerThanAnAmqpShortString_Fails()
    {
        var error = Assert.Single(RabbitMqSinkOptionsValidator.GetErrors(new RabbitMqSinkOptions { RoutingKey = new string('k', 256) }));
        Assert.Contains("at most 255", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Defaults_AreValid()
    {
        var options = new RabbitMqSinkOptions();

        Assert.Empty(RabbitMqSinkOptionsValidator.GetErrors(options));
        Assert.Equal(("amqp://guest:guest@127.0.0.1:5672/", "", "{socket}"), (options.Uri, options.Exchange, options.RoutingKey));
        Assert.True(options.Persistent && options.Required);
        Assert.Equal(SinkFailurePolicy.Retry, options.OnFailure);
        Assert.Equal(TimeSpan.FromSeconds(5), options.MaxRetryDelay);
    }

    [Theory]
    [InlineData("amqps://u:p@broker.example:5671/prod")]
    [InlineData("amqp://127.0.0.1")]
    [InlineData("amqp://u:p@127.0.0.1:5672/%2F")]
    public void Validate_AmqpUris_AreValid(string uri)
        => Assert.Empty(RabbitMqSinkOptionsValidator.GetErrors(new RabbitMqSinkOptions { Uri = uri }));

    [Theory]
    [InlineData("http://user:s3cret@broker/", "Uri: 'http://broker/' is not an amqp:// or amqps:// URI")]
    [InlineData("ws://broker:15674/ws", "is not an amqp:// or amqps:// URI")]
    [InlineData("user:s3cret@broker", "is not an amqp:// or amqps:// URI")]
    [InlineData("not a uri s3cret", "Uri: is not an absolute URI")]
    [InlineData("", "Uri: is required")]
    [InlineData("amqp://user:s3cret@broker/a/b", "Uri: 'amqp://broker/a/b' has more than one path segment")]
    public void Validate_BadUri_ErrorNamesTheKeyWithoutThePassword(string uri, string expected)
    {
        var error = Assert.Single(RabbitMqSinkOptionsValidator.GetErrors(new RabbitMqSinkOptions { Uri = uri }));

        Assert.StartsWith("Gateway:Handlers:rabbitmq:Uri: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BadDelaysAndPolicy_OneErrorEach()
    {
        var errors = RabbitMqSinkOptionsValidator.GetErrors(new RabbitMqSinkOptions
        {
            MaxRetryDelay = TimeSpan.Zero,
            ConfirmTimeout = TimeSpan.FromDays(2),
            OnFailure = (SinkFailurePolicy)7,
        });

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Handlers:rabbitmq:MaxRetryDelay: must be positive", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Handlers:rabbitmq:ConfirmTimeout: must be positive and at most 01:00:00", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Handlers:rabbitmq:OnFailure: '7' is neither Retry nor Fail", StringComparison.Ordinal));
    }

    [Fact]
    public void Bind_Section_ReadsEveryKey()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Handlers:rabbitmq:Uri"] = "amqp://u:p@127.0.0.1:5673/v",
            ["Gateway:Handlers:rabbitmq:Exchange"] = "frames",
            ["Gateway:Handlers:rabbitmq:RoutingKey"] = "{socket}.{event}",
            ["Gateway:Handlers:rabbitmq:Persistent"] = "false",
            ["Gateway:Handlers:rabbitmq:OnFailure"] = "Fail",
            ["Gateway:Handlers:rabbitmq:Required"] = "false",
            ["Gateway:Handlers:rabbitmq:MaxRetryDelay"] = "00:00:02",
            ["Gateway:Handlers:rabbitmq:ConfirmTimeout"] = "00:00:10",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddGateway(configuration).Services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<RabbitMqSinkOptions>>().Value;

        Assert.Equal(("amqp://u:p@127.0.0.1:5673/v", "frames", "{socket}.{event}"), (options.Uri, options.Exchange, options.RoutingKey));
        Assert.False(options.Persistent || options.Required);
        Assert.Equal(SinkFailurePolicy.Fail, options.OnFailure);
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)), (options.MaxRetryDelay, options.ConfirmTimeout));
        var sink = provider.GetRequiredService<RabbitMqSink>();
        Assert.Same(sink, provider.GetRequiredKeyedService<IFrameHandler>(RabbitMqSink.Name));
        Assert.Same(sink, Assert.Single(provider.GetServices<ISinkHealth>(), s => s.Name == RabbitMqSink.Name));
        Assert.Equal((RabbitMqSink.Name, false, SinkState.Idle), (((ISinkHealth)sink).Name, sink.Required, sink.State));
    }

    [Fact]
    public async Task HandleAsync_InvalidOptions_FailsEveryFrameWithTheErrorsAndHealthIsDown()
    {
        var logs = new FakeLogCollector();
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = "https://user:s3cret@broker/", RoutingKey = "{nope}" }, logs);
        var settler = new Settler();

        await sink.HandleAsync(FrameWith("prices", "", settler), TestContext.Current.CancellationToken);

        var error = Assert.IsType<InvalidOperationException>(await settler.Outcomes[1].Task);
        Assert.Contains("Gateway:Handlers:rabbitmq:Uri: 'https://broker/' is not an amqp:// or amqps:// URI", error.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Handlers:rabbitmq:RoutingKey: '{nope}' has an unknown placeholder", error.Message, StringComparison.Ordinal);
        Assert.Equal((SinkState.Down, 0L, 0L, 1L), (sink.State, sink.InFlight, sink.Confirmed, sink.Failed));
        Assert.Contains("Gateway:Handlers:rabbitmq:Uri", sink.LastError, StringComparison.Ordinal);
        var logged = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 518);
        Assert.DoesNotContain("s3cret", logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandleAsync_FrameWithoutSettler_IsConfirmedInsideTheCall()
    {
        await using var sink = Sink(new RabbitMqSinkOptions { RoutingKey = "{bad" }, new FakeLogCollector());

        // The same failure, but HandleAsync carries it, since nothing could settle the frame later.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await sink.HandleAsync(FrameWith("prices", ""), TestContext.Current.CancellationToken));
        Assert.Equal(1, sink.Failed);
    }

    [Fact]
    public async Task HandleAsync_BrokerUnreachable_FailPolicyFailsTheFrameAndNothingShowsThePassword()
    {
        var logs = new FakeLogCollector();

        // Port 1 on loopback: nothing listens, the connection is refused at once.
        await using var sink = Sink(new RabbitMqSinkOptions { Uri = "amqp://user:s3cr%2Ft@127.0.0.1:1/", OnFailure = SinkFailurePolicy.Fail }, logs);
        var settler = new Settler();

        await sink.HandleAsync(FrameWith("prices", "", settler, seq: 1), TestContext.Current.CancellationToken);
        await sink.HandleAsync(FrameWith("prices", "", settler, seq: 2), TestContext.Current.CancellationToken);

        Assert.NotNull(await settler.Outcomes[1].Task);
        var second = await settler.Outcomes[2].Task;
        Assert.NotNull(second); // refused again, or refused at once within the reconnect backoff ("amqp://127.0.0.1:1/ is unreachable: ...")
        Assert.Equal((SinkState.Down, 0L, 2L), (sink.State, sink.InFlight, sink.Failed));
        Assert.NotNull(sink.LastError);
        var shown = string.Join("\n", logs.GetSnapshot().Select(r => r.Message).Append(sink.LastError).Append(second?.Message));
        Assert.DoesNotContain("s3cr", shown, StringComparison.Ordinal);
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 511 && r.Message.Contains("amqp://127.0.0.1:1/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandleAsync_BrokerUnreachableWithRetry_FrameStaysPendingUntilDisposeFailsIt()
    {
        var sink = Sink(new RabbitMqSinkOptions { Uri = "amqp://127.0.0.1:1/", MaxRetryDelay = TimeSpan.FromMilliseconds(200) }, new FakeLogCollector());
        var settler = new Settler();

        await sink.HandleAsync(FrameWith("prices", "", settler), TestContext.Current.CancellationToken);
        await Task.Delay(500, TestContext.Current.CancellationToken);

        Assert.False(settler.Outcomes[1].Task.IsCompleted);
        Assert.Equal((SinkState.Down, 1L), (sink.State, sink.InFlight));
        await sink.DisposeAsync();
        Assert.IsType<ObjectDisposedException>(await settler.Outcomes[1].Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal((0L, 1L), (sink.InFlight, sink.Failed));
    }

    private static RabbitMqSink Sink(RabbitMqSinkOptions options, FakeLogCollector logs)
        => new(Options.Create(options), new FakeLogger<RabbitMqSink>(logs), TimeProvider.System);

    /// <summary>Records each frame's settlement: null for success, the exception for a failure.</summary>
    private sealed class Settler : IFrameSettler
    {
        public ConcurrentDictionary<long, TaskCompletionSource<Exception?>> Outcomes { get; } = new();

        public FrameSettlement Defer(in Frame frame)
            => new Settlement(Outcomes.GetOrAdd(frame.Sequence, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)));

        private sealed class Settlement(TaskCompletionSource<Exception?> outcome) : FrameSettlement
        {
            public override void Succeed() => outcome.TrySetResult(null);

            public override void Fail(Exception? exception = null) => outcome.TrySetResult(exception ?? new InvalidOperationException("failed"));
        }
    }
}
