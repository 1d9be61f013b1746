using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using RabbitMQ.Client;
using Xunit;

namespace Gateway.Testing;

/// <summary>
/// A real RabbitMQ on 127.0.0.1 (started by <c>.ci/rabbitmq.sh</c>) for tests that need a broker:
/// web-stomp for the gateway, AMQP (RabbitMQ.Client) for the test's own side of the queue.
/// </summary>
/// <remarks>
/// <para>Start a broker test with <c>await using var broker = await RabbitMqBroker.RequireAsync();</c>.
/// When the broker does not answer, the test is skipped with the reason on a developer machine, and
/// fails when brokers are required (<c>GATEWAY_REQUIRE_BROKERS=1</c>, set by <c>.ci/run</c>, or
/// <c>CI</c> set; <c>GATEWAY_REQUIRE_BROKERS=0</c> wins over <c>CI</c>).</para>
/// <para>Where: <c>GATEWAY_RABBITMQ</c> (web-stomp URL, default <c>ws://127.0.0.1:15674/ws</c>),
/// <c>GATEWAY_RABBITMQ_AMQP</c> (default <c>amqp://127.0.0.1:5672</c>), <c>GATEWAY_RABBITMQ_METRICS</c>
/// (the Prometheus plugin, default <c>http://127.0.0.1:15692</c>). Only 127.0.0.1 is accepted.</para>
/// <para>Each instance owns one AMQP connection and deletes the queues it created when disposed.</para>
/// </remarks>
public sealed partial class RabbitMqBroker : IAsyncDisposable
{
    public const string UrlVariable = "GATEWAY_RABBITMQ";
    public const string AmqpVariable = "GATEWAY_RABBITMQ_AMQP";
    public const string MetricsVariable = "GATEWAY_RABBITMQ_METRICS";
    public const string RequireVariable = "GATEWAY_REQUIRE_BROKERS";

    /// <summary>guest/guest: RabbitMQ allows it on loopback connections only, which is all we make.</summary>
    public const string Login = "guest";
    public const string Passcode = "guest";
    public const string VirtualHost = "/";

    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(3);
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private static readonly Lazy<Task<string?>> s_absence = new(ProbeAsync);

    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly List<string> _queues = [];

    private RabbitMqBroker(IConnection connection, IChannel channel)
    {
        _connection = connection;
        _channel = channel;
    }

    /// <summary>
    /// Stops and starts the broker with the repository's <c>.ci/rabbitmq.sh</c> (durable queues and
    /// persistent messages survive). Only for tests in a collection that runs alone.
    /// </summary>
    public static async Task RestartAsync()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, ".ci", "rabbitmq.sh")))
        {
            root = root.Parent;
        }

        var script = root is null ? throw new InvalidOperationException(".ci/rabbitmq.sh not found above " + AppContext.BaseDirectory) : Path.Combine(root.FullName, ".ci", "rabbitmq.sh");
        foreach (var command in new[] { "stop", "start" })
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash", [script, command]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var errors = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"rabbitmq.sh {command} failed ({process.ExitCode}): {await output} {await errors}");
            }
        }
    }

    /// <summary>web-stomp: what the gateway (or a plain ClientWebSocket) connects to.</summary>
    public static Uri WebStompUrl { get; } = Endpoint(UrlVariable, "ws://127.0.0.1:15674/ws");

    public static Uri AmqpUrl { get; } = Endpoint(AmqpVariable, "amqp://127.0.0.1:5672");

    public static Uri MetricsUrl { get; } = Endpoint(MetricsVariable, "http://127.0.0.1:15692");

    /// <summary>Whether a missing broker fails the test rather than skipping it, and why.</summary>
    public static (bool Required, string Why) Requirement
    {
        get
        {
            var require = Environment.GetEnvironmentVariable(RequireVariable);
            if (!string.IsNullOrEmpty(require))
            {
                var on = require is not ("0" or "false" or "False" or "no");
                return (on, $"{RequireVariable}={require}");
            }

            var ci = Environment.GetEnvironmentVariable("CI");
            return (!string.IsNullOrEmpty(ci) && ci is not ("0" or "false" or "False"), $"CI={ci}");
        }
    }

    /// <summary>
    /// Connects to the broker, or skips the test (developer machine) or fails it (CI) when there is none.
    /// </summary>
    public static async Task<RabbitMqBroker> RequireAsync(CancellationToken cancellationToken = default)
    {
        var absent = await s_absence.Value;
        if (absent is not null)
        {
            var (required, why) = Requirement;
            var message = $"RabbitMQ with web-stomp is not available: {absent}. Start it with `.ci/rabbitmq.sh` " +
                "(run it as root once to install rabbitmq-server; `.ci/rabbitmq.sh stop` stops it).";
            if (required)
            {
                Assert.Fail($"{message} Broker tests are required here ({why}), so this is a failure, not a skip.");
            }

            Assert.Skip(message);
        }

        var factory = new ConnectionFactory
        {
            HostName = AmqpUrl.Host,
            Port = AmqpUrl.Port,
            UserName = Login,
            Password = Passcode,
            VirtualHost = VirtualHost,
            ClientProvidedName = "gateway-tests",
        };
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        try
        {
            // Confirmations tracked by the client: a publish completes when the broker has the message.
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
                cancellationToken);
            return new RabbitMqBroker(connection, channel);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>A queue name no other test (or earlier run) uses: <c>gateway-test-{hint}-{random}</c>.</summary>
    public static string NewQueueName(string hint = "q")
    {
        var safe = new string(hint.Take(64).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());
        return $"gateway-test-{safe}-{Guid.NewGuid():N}";
    }

    /// <summary>
    /// Declares a durable, non-exclusive, non-auto-delete classic queue (what a STOMP SUBSCRIBE to
    /// <c>/queue/{name}</c> declares too) under a fresh name; it is deleted on <see cref="DisposeAsync"/>.
    /// </summary>
    public async Task<string> DeclareQueueAsync(string hint = "q", CancellationToken cancellationToken = default)
    {
        var name = NewQueueName(hint);
        await _channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, arguments: null,
            cancellationToken: cancellationToken);
        _queues.Add(name);
        return name;
    }

    /// <summary>Deletes it on <see cref="DisposeAsync"/> (for a queue a STOMP SUBSCRIBE declared).</summary>
    public void DeleteOnDispose(string queue) => _queues.Add(queue);

    /// <summary>Publishes one persistent message to the default exchange, routed to <paramref name="queue"/>; returns once confirmed.</summary>
    public async Task PublishAsync(string queue, string body, IDictionary<string, object?>? headers = null,
        CancellationToken cancellationToken = default)
    {
        var properties = new BasicProperties { Persistent = true, ContentType = "text/plain", Headers = headers };
        await _channel.BasicPublishAsync("", queue, mandatory: true, properties, Encoding.UTF8.GetBytes(body), cancellationToken);
    }

    /// <summary>
    /// Publishes <paramref name="count"/> persistent messages (<paramref name="body"/> of the index,
    /// default <c>"message {i}"</c>, i from 1), pipelined in batches with publisher confirms; returns
    /// once the broker has confirmed them all.
    /// </summary>
    public async Task PublishManyAsync(string queue, int count, Func<int, string>? body = null,
        CancellationToken cancellationToken = default)
    {
        const int batch = 500;
        body ??= i => string.Create(CultureInfo.InvariantCulture, $"message {i}");
        var properties = new BasicProperties { Persistent = true, ContentType = "text/plain" };
        var pending = new List<Task>(batch);
        for (var i = 1; i <= count; i++)
        {
            pending.Add(_channel.BasicPublishAsync("", queue, mandatory: true, properties,
                (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(body(i)), cancellationToken).AsTask());
            if (pending.Count == batch || i == count)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
        }
    }

    /// <summary>Takes every ready message off <paramref name="queue"/> (acknowledged), in queue order, as text.</summary>
    public async Task<List<string>> DrainAsync(string queue, CancellationToken cancellationToken = default)
    {
        var bodies = new List<string>();
        while (await _channel.BasicGetAsync(queue, autoAck: true, cancellationToken) is { } message)
        {
            bodies.Add(Encoding.UTF8.GetString(message.Body.Span));
        }

        return bodies;
    }

    /// <summary>Removes every ready message; returns how many.</summary>
    public async Task<uint> PurgeAsync(string queue, CancellationToken cancellationToken = default) =>
        await _channel.QueuePurgeAsync(queue, cancellationToken);

    public async Task DeleteQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        await _channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: cancellationToken);
        _queues.Remove(queue);
    }

    /// <summary>Ready messages and consumers, exact and immediate (AMQP passive declare). Unacked messages are not in it.</summary>
    public async Task<(uint Ready, uint Consumers)> GetReadyAsync(string queue, CancellationToken cancellationToken = default)
    {
        var ok = await _channel.QueueDeclarePassiveAsync(queue, cancellationToken);
        return (ok.MessageCount, ok.ConsumerCount);
    }

    /// <summary>
    /// Ready and unacknowledged messages from the broker's Prometheus endpoint. These are samples the
    /// queue emits every <c>collect_statistics_interval</c> (250 ms in <c>.ci/rabbitmq.sh</c>), so
    /// wait for a value with <see cref="WaitForDepthAsync"/> rather than asserting one read. Null
    /// when the queue has not reported yet.
    /// </summary>
    public static async Task<(long Ready, long Unacked)?> GetDepthAsync(string queue, CancellationToken cancellationToken = default)
    {
        var url = new Uri(MetricsUrl, "/metrics/detailed?family=queue_coarse_metrics&vhost=" + Uri.EscapeDataString(VirtualHost));
        var text = await s_http.GetStringAsync(url, cancellationToken);
        long? ready = null, unacked = null;
        foreach (Match m in MetricLine().Matches(text))
        {
            if (m.Groups["queue"].Value != queue)
            {
                continue;
            }

            var value = (long)double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            if (m.Groups["name"].Value == "ready")
            {
                ready = value;
            }
            else
            {
                unacked = value;
            }
        }

        return ready is { } r && unacked is { } u ? (r, u) : null;
    }

    /// <summary>Waits until the queue reports this depth (see <see cref="GetDepthAsync"/>); the timeout message has the last value seen.</summary>
    public static async Task WaitForDepthAsync(string queue, long ready, long unacked, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        (long, long)? last = null;
        var deadline = DateTime.UtcNow + (timeout ?? Eventually.DefaultTimeout);
        while (true)
        {
            last = await GetDepthAsync(queue, cancellationToken);
            if (last == (ready, unacked))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Queue {queue}: expected {ready} ready / {unacked} unacked, last seen " +
                    (last is { } l ? $"{l.Item1} ready / {l.Item2} unacked" : "nothing (the queue has not reported)") + ".");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            foreach (var queue in _queues.ToList())
            {
                try
                {
                    await _channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
                }
                catch (Exception) when (_channel.IsOpen is false)
                {
                    break; // a failed operation closed the channel; the queues stay, under names nobody reuses
                }
            }

            await _channel.CloseAsync();
            await _connection.CloseAsync();
        }
        finally
        {
            await _channel.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }

    // rabbitmq_detailed_queue_messages_ready{vhost="/",queue="name"} 3
    [GeneratedRegex("""^rabbitmq_detailed_queue_messages_(?<name>ready|unacked)\{(?=[^}]*\bqueue="(?<queue>[^"]*)")[^}]*\} (?<value>\S+)$""",
        RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex MetricLine();

    private static Uri Endpoint(string variable, string fallback)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        var uri = new Uri(string.IsNullOrWhiteSpace(value) ? fallback : value.Trim());
        if (uri.Host != "127.0.0.1")
        {
            throw new InvalidOperationException($"{variable}={value}: broker tests only target 127.0.0.1.");
        }

        return uri;
    }

    /// <summary>Null when every port answers, else what is missing (once per process).</summary>
    private static async Task<string?> ProbeAsync()
    {
        foreach (var (what, uri) in new[] { ("web-stomp", WebStompUrl), ("AMQP", AmqpUrl), ("the Prometheus plugin", MetricsUrl) })
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(s_probeTimeout);
            try
            {
                await client.ConnectAsync(uri.Host, uri.Port, timeout.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return $"nothing accepts {what} connections on {uri.Host}:{uri.Port} ({(e is SocketException s ? s.SocketErrorCode : "timed out")})";
            }
        }

        return null;
    }
}
