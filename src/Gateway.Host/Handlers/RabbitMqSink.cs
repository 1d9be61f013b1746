using System.Diagnostics.CodeAnalysis;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Gateway.Host.Handlers;

/// <summary>
/// The built-in <c>rabbitmq</c> sink: publishes every frame to an exchange with publisher confirms
/// and settles the frame (<see cref="Frame.Defer"/>) when the broker confirmed it, so many frames
/// are in flight at once and a frame is acknowledged upstream only once RabbitMQ has it.
/// </summary>
/// <remarks>
/// <para>One connection (opened by the first frame, recovered by the client library) and one
/// channel with confirmation tracking: <c>BasicPublishAsync</c> completes on the broker's ack and
/// throws on a nack, on a <c>basic.return</c> (published <c>mandatory</c>: a message no queue takes
/// is an error, not a silent loss), and when the channel or connection closes.</para>
/// <para>Concurrent publishes share the channel: RabbitMQ.Client 7.2 serializes the send part under
/// its own lock and waits for confirmations outside it, so sends stay in call order and
/// confirmations are awaited in parallel.</para>
/// <para>A frame dispatched without a settler (<see cref="Frame.Defer"/> throws) is confirmed
/// within <see cref="HandleAsync"/> instead.</para>
/// </remarks>
internal sealed partial class RabbitMqSink : IFrameHandler, ISinkHealth, IAsyncDisposable, IDisposable
{
    public const string Name = "rabbitmq";

    /// <summary>AMQP routing keys (and exchange names) are short strings: at most 255 bytes of UTF-8.</summary>
    public const int MaxRoutingKeyBytes = 255;

    private static readonly TimeSpan s_firstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_closeTimeout = TimeSpan.FromSeconds(5);
    private static readonly CreateChannelOptions s_channelOptions = new(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);

    private readonly string _sinkName;
    private readonly RabbitMqSinkOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly FrameTemplate? _routingKey;
    private readonly string? _configurationError;
    private readonly Uri? _uri;
    private readonly Uri? _displayUri;
    private readonly string[] _secrets;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private readonly CancellationToken _stopping;

    private IConnection? _connection;
    private IChannel? _channel;
    private TimeSpan _connectDelay = TimeSpan.Zero;
    private long _nextConnectAt;
    private string? _connectError;
    private int _disposed;

    public RabbitMqSink(IOptions<RabbitMqSinkOptions> options, ILogger<RabbitMqSink> logger, TimeProvider timeProvider)
        : this(Name, RabbitMqSinkOptions.SectionName, ReadOptions(options, out var bindError), logger, timeProvider, bindError)
    {
    }

    /// <summary>A sink called <paramref name="name"/>, configured by <paramref name="section"/>: the built-in one, or a named instance (<see cref="SinkInstances"/>).</summary>
    public RabbitMqSink(string name, string section, RabbitMqSinkOptions options, ILogger<RabbitMqSink> logger, TimeProvider timeProvider)
        : this(name, section, options, logger, timeProvider, bindError: null)
    {
    }

    private RabbitMqSink(string name, string section, RabbitMqSinkOptions options, ILogger<RabbitMqSink> logger, TimeProvider timeProvider, string? bindError)
    {
        _sinkName = name;
        _logger = logger;
        _timeProvider = timeProvider;
        _stopping = _disposing.Token;
        _options = options;
        var errors = bindError is null ? RabbitMqSinkOptionsValidator.GetErrors(options, section) : [bindError];

        _secrets = SecretsOf(_options.Uri);
        _ = FrameTemplate.TryParse(_options.RoutingKey, out _routingKey, out _); // checked by the validator
        if (errors.Count == 0)
        {
            _uri = new Uri(_options.Uri.Trim());
            _displayUri = UrlRedaction.ForDisplay(_uri);
        }
        else
        {
            _configurationError = Redact(new GatewayConfigurationException(errors).Message);
            _state = (int)SinkState.Down;
            _lastError = _configurationError;
            Log.InvalidConfiguration(_logger, _sinkName, _configurationError);
        }
    }

    /// <summary>The built-in sink's options; a value the binder could not convert (a bool, a TimeSpan, OnFailure) is reported, its message naming the key.</summary>
    private static RabbitMqSinkOptions ReadOptions(IOptions<RabbitMqSinkOptions> options, out string? bindError)
    {
        try
        {
            bindError = null;
            return options.Value;
        }
        catch (InvalidOperationException ex)
        {
            bindError = ex.Message;
            return new RabbitMqSinkOptions();
        }
    }

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        var deferred = TryDefer(frame);
        var settlement = deferred ?? new AwaitedSettlement();
        Interlocked.Increment(ref _inFlight);

        ValueTask started;
        if (_configurationError is { } configurationError)
        {
            Settle(settlement, new InvalidOperationException(configurationError));
            started = ValueTask.CompletedTask;
        }
        else if (!TryCreateMessage(frame, out var message, out var invalid))
        {
            // No retry would make this frame publishable.
            Settle(settlement, invalid);
            started = ValueTask.CompletedTask;
        }
        else if (UsableChannel() is { } channel)
        {
            // Published before returning, so the sends keep the order of the frames.
            _ = DeliverAsync(PublishAsync(channel, message), message, settlement);
            started = ValueTask.CompletedTask;
        }
        else
        {
            started = ConnectAndStartAsync(message, settlement, cancellationToken);
        }

        return deferred is null ? AwaitSettlementAsync(started, (AwaitedSettlement)settlement, cancellationToken) : started;
    }

    private static FrameSettlement? TryDefer(in Frame frame)
    {
        try
        {
            return frame.Defer();
        }
        catch (InvalidOperationException)
        {
            return null; // dispatched without a settler: HandleAsync waits for the confirmation itself
        }
    }

    private static async ValueTask AwaitSettlementAsync(ValueTask started, AwaitedSettlement settlement, CancellationToken cancellationToken)
    {
        await started.ConfigureAwait(false);
        await settlement.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the connection or channel the frame needs (bounded by the handler's token), then publishes it.</summary>
    private async ValueTask ConnectAndStartAsync(OutgoingMessage message, FrameSettlement settlement, CancellationToken cancellationToken)
    {
        Task attempt;
        try
        {
            var channel = await GetChannelAsync(cancellationToken).ConfigureAwait(false);
            attempt = PublishAsync(channel, message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            attempt = Task.FromException(ex);
        }
        catch (OperationCanceledException ex)
        {
            Settle(settlement, ex);
            throw;
        }

        _ = DeliverAsync(attempt, message, settlement);
    }

    /// <summary>
    /// Waits for the confirmation of the first attempt and settles the frame; under <c>Retry</c>,
    /// publishes again after each failure (100 ms doubling to <c>MaxRetryDelay</c>) until one is confirmed.
    /// </summary>
    private async Task DeliverAsync(Task attempt, OutgoingMessage message, FrameSettlement settlement)
    {
        var delay = s_firstRetryDelay;
        while (true)
        {
            Exception error;
            try
            {
                await attempt.ConfigureAwait(false);
                Settle(settlement, null);
                return;
            }
            catch (Exception ex)
            {
                error = ex;
            }

            var description = Redact(Describe(error));
            Volatile.Write(ref _lastError, description);
            if (_options.OnFailure == SinkFailurePolicy.Fail)
            {
                Settle(settlement, error);
                return;
            }

            if (_stopping.IsCancellationRequested)
            {
                Settle(settlement, Stopped(description));
                return;
            }

            Log.Retrying(_logger, _sinkName, message.SocketName, message.Sequence, description, delay);
            try
            {
                await Task.Delay(delay, _timeProvider, _stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Settle(settlement, Stopped(description));
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            attempt = RepublishAsync(message);
        }
    }

    private static ObjectDisposedException Stopped(string lastError)
        => new(nameof(RabbitMqSink), "The RabbitMQ sink stopped before the broker confirmed the frame; the last attempt failed with: " + lastError);

    private async Task RepublishAsync(OutgoingMessage message)
    {
        var channel = await GetChannelAsync(_stopping).ConfigureAwait(false);
        await PublishAsync(channel, message).ConfigureAwait(false);
    }

    /// <summary>One attempt: completes when the broker confirmed the message, throws when it refused, returned or lost it, or did not confirm within <c>ConfirmTimeout</c>.</summary>
    /// <remarks>
    /// The timeout is a safety net: RabbitMQ.Client puts no bound on a confirmation, and a publish
    /// caught in a connection loss has been seen to wait forever (rabbitmq-dotnet-client#1930).
    /// Cancelling the wait is safe in 7.2: the client drops the confirmation's tracking entry.
    /// </remarks>
    private async Task PublishAsync(IChannel channel, OutgoingMessage message)
    {
        using var timeout = new CancellationTokenSource(_options.ConfirmTimeout, _timeProvider);
        try
        {
            await channel.BasicPublishAsync(_options.Exchange, message.RoutingKey, mandatory: true, message.Properties, message.Body, timeout.Token)
                .ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"RabbitMQ did not confirm the message within {_options.ConfirmTimeout} (ConfirmTimeout).");
        }
    }

    private void Settle(FrameSettlement settlement, Exception? error)
    {
        Interlocked.Decrement(ref _inFlight);
        if (error is null)
        {
            Interlocked.Increment(ref _confirmed);
            settlement.Succeed();
        }
        else
        {
            Interlocked.Increment(ref _failed);
            settlement.Fail(error);
        }
    }

    /// <summary>Copies what the message needs from the frame, which is valid only until <see cref="HandleAsync"/> returns.</summary>
    private bool TryCreateMessage(in Frame frame, out OutgoingMessage message, [NotNullWhen(false)] out ArgumentException? error)
    {
        var routingKey = _routingKey!.Render(frame); // valid: a configuration error fails the frame before this
        if (Encoding.UTF8.GetByteCount(routingKey) > MaxRoutingKeyBytes)
        {
            message = default;
            error = new ArgumentException($"The routing key of frame {frame.SocketName}/{frame.Sequence} is longer than {MaxRoutingKeyBytes} bytes (RoutingKey '{_options.RoutingKey}').");
            return false;
        }

        var headers = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["x-gateway-socket"] = frame.SocketName,
            ["x-gateway-seq"] = frame.Sequence,
            ["x-gateway-connection"] = frame.ConnectionNumber,
        };
        string? contentType = null, messageId = null;
        if (!frame.Headers.IsEmpty)
        {
            foreach (var (name, value) in frame.Headers.ToList())
            {
                // The first value of a repeated header is the one that counts (FrameHeaders); the gateway's own stay.
                if (headers.TryAdd(name, value))
                {
                    contentType ??= name == "content-type" ? value : null;
                    messageId ??= name == "message-id" ? value : null;
                }
            }
        }

        var properties = new BasicProperties
        {
            ContentType = contentType ?? (frame.Kind == FrameKind.Text ? "text/plain" : "application/octet-stream"),
            MessageId = messageId,
            Timestamp = new AmqpTimestamp(frame.ReceivedAt.ToUnixTimeSeconds()),
            DeliveryMode = _options.Persistent ? DeliveryModes.Persistent : DeliveryModes.Transient,
            Headers = headers,
        };
        message = new OutgoingMessage(frame.SocketName, frame.Sequence, routingKey, properties, frame.Payload.ToArray());
        error = null;
        return true;
    }

    /// <summary>What a publish needs, owned by the sink: the frame's payload and headers are copied.</summary>
    /// <remarks>The client adds its confirmation sequence number to <see cref="Properties"/>' headers on each attempt.</remarks>
    private readonly record struct OutgoingMessage(string SocketName, long Sequence, string RoutingKey, BasicProperties Properties, byte[] Body);

    /// <summary>The settlement of a frame that could not be deferred: <see cref="HandleAsync"/> awaits it.</summary>
    private sealed class AwaitedSettlement : FrameSettlement
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Task => _done.Task;

        public override void Succeed() => _done.TrySetResult();

        public override void Fail(Exception? exception = null)
            => _done.TrySetException(exception ?? new InvalidOperationException("RabbitMQ refused the frame."));
    }
}
