using System.Diagnostics;
using System.Net.Sockets;
using StackExchange.Redis;
using Xunit;

namespace Gateway.Testing;

/// <summary>
/// A real Redis on 127.0.0.1 (started by <c>.ci/redis.sh</c>) for tests that need one: the test's
/// own connection to look at what a sink wrote (<c>XLEN</c>, <c>XRANGE</c>), fresh key names, and
/// stop/start of the server.
/// </summary>
/// <remarks>
/// <para>Start a test with <c>await using var redis = await RedisServer.RequireAsync();</c>. When Redis
/// does not answer, the test is skipped with the reason on a developer machine, and fails when
/// servers are required (<c>GATEWAY_REQUIRE_BROKERS=1</c>, set by <c>.ci/run</c>, or <c>CI</c> set;
/// see <see cref="RabbitMqBroker.Requirement"/>).</para>
/// <para>Where: <c>GATEWAY_REDIS</c> (<c>host:port</c>, default <c>127.0.0.1:6379</c>). Only 127.0.0.1 is accepted.</para>
/// <para>Each instance owns one connection and deletes the keys it named (<see cref="NewKey"/>) when disposed.</para>
/// </remarks>
public sealed class RedisServer : IAsyncDisposable
{
    public const string EndpointVariable = "GATEWAY_REDIS";

    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(3);

    private readonly List<RedisKey> _keys = [];

    private RedisServer(ConnectionMultiplexer connection) => Connection = connection;

    /// <summary><c>127.0.0.1:6379</c>, or <c>GATEWAY_REDIS</c>: what a sink's <c>Configuration</c> starts with.</summary>
    public static string Endpoint { get; } = ReadEndpoint();

    /// <summary>The test's own connection; it reconnects by itself after a restart.</summary>
    public ConnectionMultiplexer Connection { get; }

    public IDatabase Database => Connection.GetDatabase();

    /// <summary>Connects to Redis, or skips the test (developer machine) or fails it (CI) when there is none.</summary>
    public static async Task<RedisServer> RequireAsync(CancellationToken cancellationToken = default)
    {
        if (await ProbeAsync(cancellationToken) is { } absent)
        {
            var (required, why) = RabbitMqBroker.Requirement;
            var message = $"Redis is not available: {absent}. Start it with `.ci/redis.sh` " +
                "(run it as root once to install redis-server; `.ci/redis.sh stop` stops it).";
            if (required)
            {
                Assert.Fail($"{message} Server tests are required here ({why}), so this is a failure, not a skip.");
            }

            Assert.Skip(message);
        }

        var options = ConfigurationOptions.Parse(Endpoint);
        options.AbortOnConnectFail = false;
        options.ClientName = "gateway-tests";
        return new RedisServer(await ConnectionMultiplexer.ConnectAsync(options));
    }

    /// <summary>A stream key no other test (or earlier run) uses, <c>gateway-test:{hint}:{random}</c>; deleted on <see cref="DisposeAsync"/>.</summary>
    public string NewKey(string hint = "stream")
    {
        var safe = new string(hint.Take(64).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());
        var key = $"gateway-test:{safe}:{Guid.NewGuid():N}";
        _keys.Add(key);
        return key;
    }

    public Task<long> StreamLengthAsync(string key) => Database.StreamLengthAsync(key);

    /// <summary>Every entry of the stream, oldest first, read in pages of <paramref name="page"/>.</summary>
    public async Task<List<StreamEntry>> ReadStreamAsync(string key, int page = 5_000)
    {
        var entries = new List<StreamEntry>();
        RedisValue from = "-";
        while (true)
        {
            var batch = await Database.StreamRangeAsync(key, from, "+", page);
            entries.AddRange(batch);
            if (batch.Length < page)
            {
                return entries;
            }

            from = "(" + batch[^1].Id; // exclusive start (Redis 6.2+)
        }
    }

    /// <summary>Stops Redis (<c>SHUTDOWN</c>: the append-only file is flushed). Only for tests in a collection that runs alone.</summary>
    public static Task StopAsync() => RunScriptAsync("stop");

    /// <summary>Starts Redis again (it reloads its append-only file) and waits until it answers.</summary>
    public static Task StartAsync() => RunScriptAsync("start");

    /// <summary>Stops and starts Redis; streams survive. Only for tests in a collection that runs alone.</summary>
    public static async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_keys.Count > 0)
            {
                await Database.KeyDeleteAsync([.. _keys]);
            }
        }
        catch (RedisException)
        {
            // Redis is down (a test stopped it and failed): the keys stay, under names nobody reuses.
        }
        finally
        {
            await Connection.DisposeAsync();
        }
    }

    private static async Task RunScriptAsync(string command)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, ".ci", "redis.sh")))
        {
            root = root.Parent;
        }

        var script = root is null ? throw new InvalidOperationException(".ci/redis.sh not found above " + AppContext.BaseDirectory) : Path.Combine(root.FullName, ".ci", "redis.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, command]) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("bash did not start");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis.sh {command} failed ({process.ExitCode}): {await output} {await errors}");
        }
    }

    private static string ReadEndpoint()
    {
        var value = Environment.GetEnvironmentVariable(EndpointVariable);
        var endpoint = string.IsNullOrWhiteSpace(value) ? "127.0.0.1:6379" : value.Trim();
        if (!endpoint.StartsWith("127.0.0.1:", StringComparison.Ordinal) || !int.TryParse(endpoint["127.0.0.1:".Length..], out _))
        {
            throw new InvalidOperationException($"{EndpointVariable}={value}: Redis tests only target 127.0.0.1:<port>.");
        }

        return endpoint;
    }

    /// <summary>Null when Redis answers PING, else what is wrong. Not cached: tests stop and start the server.</summary>
    private static async Task<string?> ProbeAsync(CancellationToken cancellationToken)
    {
        var port = int.Parse(Endpoint["127.0.0.1:".Length..], System.Globalization.CultureInfo.InvariantCulture);
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_probeTimeout);
        try
        {
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var reply = new byte[64];
            var read = await stream.ReadAsync(reply, timeout.Token);
            var text = System.Text.Encoding.ASCII.GetString(reply, 0, read);
            return text.StartsWith("+PONG", StringComparison.Ordinal) ? null : $"127.0.0.1:{port} answered PING with '{text.TrimEnd()}'";
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            return $"nothing answers on 127.0.0.1:{port} ({(e is SocketException s ? s.SocketErrorCode : e.GetType().Name)})";
        }
    }
}
