using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.IntegrationTests.Handlers;

/// <summary>
/// The <c>redis-stream</c> sink against the real redis-server (<c>.ci/redis.sh</c>), called directly
/// with a <see cref="RecordingSettler"/> in the dispatcher's place.
/// </summary>
[Collection(nameof(SharedRedis))]
public sealed class RedisStreamSinkTests
{
    private static readonly TimeSpan s_settleTimeout = TimeSpan.FromSeconds(90);
    private static readonly UpstreamConnection s_connection = new("prices", 3, new Uri("ws://upstream/"), null, DateTimeOffset.UnixEpoch);
    private static readonly DateTimeOffset s_receivedAt = new(2026, 12, 2, 10, 0, 0, 123, TimeSpan.Zero);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static (RedisStreamSink Sink, FakeLogCollector Logs) NewSink(RedisStreamSinkOptions options)
    {
        var logger = new FakeLogger<RedisStreamSink>();
        return (new RedisStreamSink(Options.Create(options), logger, TimeProvider.System), logger.Collector);
    }

    private static byte[] Payload(long seq) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"price\":{seq}}}"));

    /// <summary>
    /// Sends frames 1..count through one reused payload buffer and one reused header block, both
    /// overwritten as soon as HandleAsync returns (as the dispatcher's pool would), with at most
    /// <paramref name="inFlight"/> unsettled; <paramref name="after"/> runs after each frame.
    /// </summary>
    private static async Task SendAsync(RedisStreamSink sink, RecordingSettler settler, int count, int inFlight,
        Func<long, string?>? headers = null, Func<long, Task>? after = null)
    {
        using var gate = new SemaphoreSlim(inFlight);
        var buffer = new byte[64];
        var block = new byte[1024];
        for (long seq = 1; seq <= count; seq++)
        {
            await gate.WaitAsync(Token);
            var payload = Payload(seq);
            payload.CopyTo(buffer, 0);
            var headerLength = headers?.Invoke(seq) is { } text ? Encoding.UTF8.GetBytes(text, block) : 0;
            var frame = settler.NewFrame(s_connection, seq, FrameKind.Text, buffer.AsMemory(0, payload.Length), new FrameHeaders(block.AsMemory(0, headerLength)), s_receivedAt);
            await sink.HandleAsync(frame, Token);
            Array.Fill(buffer, (byte)'X');
            Array.Fill(block, (byte)'?');
            _ = settler.LastSettled!.ContinueWith(_ => gate.Release(), TaskScheduler.Default);
            if (after is not null)
            {
                await after(seq);
            }
        }
    }

    [Fact]
    public async Task HandleAsync_10000Frames_AllSucceedInSeqOrderWithFields()
    {
        await using var redis = await RedisServer.RequireAsync(Token);
        var key = redis.NewKey("bulk");
        var (sink, _) = NewSink(new RedisStreamSinkOptions { Configuration = RedisServer.Endpoint, Key = key });
        await using var _sink = sink;
        var settler = new RecordingSettler();

        // The first frame has headers: a repeated name, a W3C traceparent, an escaped colon and newline.
        const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await SendAsync(sink, settler, 10_000, inFlight: 1_000,
            headers: seq => seq == 1 ? $"destination:/topic/prices\ntraceparent:{TraceParent}\ndestination:/topic/other\nx\\cy:a\\nb\n" : null);
        await settler.WaitForAsync(10_000, s_settleTimeout);

        Assert.Equal(10_000, settler.Succeeded);
        Assert.Empty(settler.Failures);
        Assert.Equal(0, settler.Repeated);
        Assert.Equal(0, sink.InFlight);
        Assert.Equal(10_000, sink.Confirmed);
        Assert.Equal(0, sink.Failed);
        Assert.Equal(SinkState.Up, sink.State);
        Assert.True(sink.Required);
        Assert.Null(sink.LastError);
        Assert.Equal(10_000, await redis.StreamLengthAsync(key));

        var entries = await redis.ReadStreamAsync(key);
        Assert.Equal(["socket", "seq", "connection", "receivedAt", "kind", "payload", "h:destination", "h:traceparent", "h:x:y"], entries[0].Values.Select(v => v.Name.ToString()));
        var fields = entries[0].Values.ToDictionary(v => v.Name.ToString(), v => v.Value);
        Assert.Equal("prices", fields["socket"].ToString());
        Assert.Equal("1", fields["seq"].ToString());
        Assert.Equal("3", fields["connection"].ToString());
        Assert.Equal("2026-12-02T10:00:00.1230000+00:00", fields["receivedAt"].ToString());
        Assert.Equal(s_receivedAt, DateTimeOffset.Parse(fields["receivedAt"].ToString(), CultureInfo.InvariantCulture));
        Assert.Equal("text", fields["kind"].ToString());
        Assert.Equal(Payload(1), (byte[]?)fields["payload"]);
        Assert.Equal("/topic/prices", fields["h:destination"].ToString());
        Assert.Equal(TraceParent, fields["h:traceparent"].ToString());
        Assert.Equal("a\nb", fields["h:x:y"].ToString());

        // In seq order, each with its own payload (not the reused buffer's later bytes); no headers after the first.
        Assert.Equal(Enumerable.Range(1, 10_000).Select(i => (long)i), entries.Select(e => (long)e["seq"]));
        Assert.All(entries, e => Assert.Equal(Payload((long)e["seq"]), (byte[]?)e["payload"]));
        Assert.All(entries.Skip(1), e => Assert.Equal(6, e.Values.Length));
    }

    [Fact]
    public async Task HandleAsync_MaxLength_TrimsApproximately()
    {
        await using var redis = await RedisServer.RequireAsync(Token);
        var key = redis.NewKey("trim");
        var (sink, _) = NewSink(new RedisStreamSinkOptions { Configuration = RedisServer.Endpoint, Key = key, MaxLength = 1_000 });
        await using var _sink = sink;
        var settler = new RecordingSettler();

        await SendAsync(sink, settler, 5_000, inFlight: 256);
        await settler.WaitForAsync(5_000, s_settleTimeout);

        Assert.Equal(5_000, settler.Succeeded);
        // MAXLEN ~ trims whole stream nodes (100 entries each by default): at least 1,000 stay, not many more.
        var length = await redis.StreamLengthAsync(key);
        Assert.InRange(length, 1_000, 1_200);
        var entries = await redis.ReadStreamAsync(key);
        Assert.Equal(5_000, (long)entries[^1]["seq"]);
    }

    [Fact]
    public async Task HandleAsync_RedisRestartedMidStream_RetryDeliversEveryFrame()
    {
        await using var redis = await RedisServer.RequireAsync(Token);
        var key = redis.NewKey("restart");
        var (sink, logs) = NewSink(new RedisStreamSinkOptions
        {
            // A frame waits in the multiplexer's backlog for up to syncTimeout, then is retried by the sink.
            Configuration = RedisServer.Endpoint + ",connectTimeout=2000,syncTimeout=1000,asyncTimeout=1000",
            Key = key,
            OnFailure = SinkFailurePolicy.Retry,
            MaxRetryDelay = TimeSpan.FromSeconds(1),
        });
        await using var _sink = sink;
        var settler = new RecordingSettler();
        const int Count = 6_000;
        var states = new List<SinkState>();
        var settledWhileDown = new List<int>();
        Task? stop = null, restart = null;

        try
        {
            // The stop starts at frame 2,000 and lands while frames 2,001.. are being sent (1 ms apart);
            // from frame 2,100 on the sender goes on until 256 are unsettled and then waits, as the
            // dispatcher would, until Redis is back 3 s later (longer than syncTimeout: frames are retried).
            await SendAsync(sink, settler, Count, inFlight: 256, after: async seq =>
            {
                if (seq == 2_000)
                {
                    stop = Task.Run(RedisServer.StopAsync, Token);
                }
                else if (seq is > 2_000 and < 2_100)
                {
                    await Task.Delay(1, Token);
                }
                else if (seq == 2_100)
                {
                    await stop!;
                    await Eventually.TrueAsync(() => sink.State == SinkState.Down, "the sink sees Redis down", TimeSpan.FromSeconds(30));
                    states.Add(sink.State);
                    settledWhileDown.Add(settler.Settled);
                    restart = Task.Run(async () =>
                    {
                        await Task.Delay(3_000, Token);
                        settledWhileDown.Add(settler.Settled);
                        await RedisServer.StartAsync();
                        await Eventually.TrueAsync(() => sink.State == SinkState.Up, "the sink sees Redis up again", TimeSpan.FromSeconds(30));
                        states.Add(sink.State);
                    }, Token);
                }
            });
            await (restart ?? Task.CompletedTask);
            await settler.WaitForAsync(Count, s_settleTimeout);
        }
        finally
        {
            await RedisServer.StartAsync();
        }

        Assert.Equal([SinkState.Down, SinkState.Up], states);
        Assert.Equal(settledWhileDown[0], settledWhileDown[1]); // nothing succeeded or failed while Redis was down
        Assert.Equal(Count, settler.Succeeded);
        Assert.Empty(settler.Failures);
        Assert.Equal(0, settler.Repeated);
        Assert.Equal(0, sink.InFlight);
        Assert.Equal(0, sink.Failed);
        Assert.NotNull(sink.LastError);
        Assert.NotEmpty(logs.WithEventId(522)); // lost
        Assert.True(logs.WithEventId(521).Count >= 2, "connected, then connected again after the restart");
        Assert.NotEmpty(logs.WithEventId(523)); // retried

        var seqs = (await redis.ReadStreamAsync(key)).Select(e => (long)e["seq"]).ToList();
        var missing = Enumerable.Range(1, Count).Select(i => (long)i).Except(seqs).ToList();
        var duplicates = seqs.Count - seqs.Distinct().Count();
        TestContext.Current.TestOutputHelper?.WriteLine($"restart: {seqs.Count} entries for {Count} frames, {duplicates} duplicate(s), {missing.Count} missing; "
            + $"{2_100 - settledWhileDown[0]} frames unsettled when the sink saw Redis down; last error: {sink.LastError}");
        Assert.Empty(missing);
        Assert.Equal(Count + duplicates, seqs.Count);
    }

    [Fact]
    public async Task HandleAsync_FailPolicyRedisStopped_FramesFailWithErrorAndNoPassword()
    {
        await using var redis = await RedisServer.RequireAsync(Token);
        var key = redis.NewKey("fail");
        const string Password = "s3cret-Pa55";
        var (sink, logs) = NewSink(new RedisStreamSinkOptions
        {
            Configuration = RedisServer.Endpoint + ",password=" + Password + ",connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000",
            Key = key,
            OnFailure = SinkFailurePolicy.Fail,
        });
        await using var _sink = sink;
        var settler = new RecordingSettler();

        SinkState state;
        string? lastError;
        await RedisServer.StopAsync();
        try
        {
            await SendAsync(sink, settler, 20, inFlight: 20);
            await settler.WaitForAsync(20, TimeSpan.FromSeconds(30));
            state = sink.State;
            lastError = sink.LastError;
        }
        finally
        {
            await RedisServer.StartAsync();
        }

        Assert.Equal(0, settler.Succeeded);
        Assert.Equal(20, settler.Failures.Count);
        Assert.All(settler.Failures.Values, e => Assert.True(e is RedisException or TimeoutException, e.ToString()));
        TestContext.Current.TestOutputHelper?.WriteLine($"fail: {settler.Failures[1].GetType().Name}: {settler.Failures[1].Message}");
        Assert.Equal(20, sink.Failed);
        Assert.Equal(0, sink.Confirmed);
        Assert.Equal(0, sink.InFlight);
        Assert.Equal(SinkState.Down, state);
        Assert.NotNull(lastError);
        Assert.DoesNotContain(Password, lastError, StringComparison.Ordinal);
        Assert.All(settler.Failures.Values, e => Assert.DoesNotContain(Password, e.ToString(), StringComparison.Ordinal));
        Assert.DoesNotContain(Password, sink.DisplayConfiguration, StringComparison.Ordinal);
        Assert.All(logs.GetSnapshot(), r => Assert.DoesNotContain(Password, r.Message + r.Exception, StringComparison.Ordinal));
        Assert.Equal(0, await redis.StreamLengthAsync(key));
    }

    [Fact]
    public async Task HandleAsync_FrameWithoutSettler_CompletesOnceRedisHasTheEntry()
    {
        await using var redis = await RedisServer.RequireAsync(Token);
        var key = redis.NewKey("inline");
        var (sink, _) = NewSink(new RedisStreamSinkOptions { Configuration = RedisServer.Endpoint, Key = key });
        await using var _sink = sink;

        for (long seq = 1; seq <= 3; seq++)
        {
            await sink.HandleAsync(new Frame(s_connection, seq, FrameKind.Binary, Payload(seq), s_receivedAt, 0), Token);
        }

        Assert.Equal(3, sink.Confirmed);
        var entries = await redis.ReadStreamAsync(key);
        Assert.Equal([1L, 2L, 3L], entries.Select(e => (long)e["seq"]));
        Assert.Equal("binary", entries[0]["kind"].ToString());
    }

    [Fact]
    public async Task DisposeAsync_FramesWaitingToBeRetried_FailAsAbandoned()
    {
        // Nothing listens on port 1: every XADD waits (Retry) for a server that never comes.
        var (sink, _) = NewSink(new RedisStreamSinkOptions
        {
            Configuration = "127.0.0.1:1,connectTimeout=500,syncTimeout=500",
            Key = "gateway-test:nowhere",
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        });
        var settler = new RecordingSettler();
        await SendAsync(sink, settler, 10, inFlight: 10);
        await Eventually.TrueAsync(() => sink.State == SinkState.Down, "the sink reports Redis down");
        await Task.Delay(1_000, Token); // past syncTimeout: the frames are in the retry loop
        Assert.Equal(0, settler.Settled);
        Assert.Equal(10, sink.InFlight);

        await sink.DisposeAsync();

        await settler.WaitForAsync(10, TimeSpan.FromSeconds(10));
        Assert.All(settler.Failures.Values, e => Assert.IsType<OperationCanceledException>(e));
        Assert.Equal(10, settler.Failures.Count);
        Assert.Equal((0L, 0L, 10L), (sink.InFlight, sink.Confirmed, sink.Failed));
    }

    /// <summary>Frames per second through the sink on 127.0.0.1, one settlement awaited at a time vs 256 in flight.</summary>
    [Fact]
    public async Task Throughput_OneVersus256InFlight()
    {
        await using var redis = await RedisServer.RequireAsync(Token);
        const int Count = 20_000;
        var results = new List<string>();
        foreach (var inFlight in new[] { 1, 256 })
        {
            var key = redis.NewKey("throughput");
            var (sink, _) = NewSink(new RedisStreamSinkOptions { Configuration = RedisServer.Endpoint, Key = key });
            await using var _sink = sink;
            var settler = new RecordingSettler();
            await SendAsync(sink, settler, 100, inFlight); // connect and warm up
            await settler.WaitForAsync(100, s_settleTimeout);

            settler = new RecordingSettler();
            var clock = Stopwatch.StartNew();
            await SendAsync(sink, settler, Count, inFlight);
            await settler.WaitForAsync(Count, s_settleTimeout);
            clock.Stop();

            Assert.Equal(Count, settler.Succeeded);
            Assert.Equal(Count + 100, await redis.StreamLengthAsync(key));
            results.Add(string.Create(CultureInfo.InvariantCulture, $"{inFlight} in flight: {Count / clock.Elapsed.TotalSeconds:N0} frames/s ({clock.Elapsed.TotalMilliseconds:N0} ms for {Count:N0})"));
        }

        TestContext.Current.TestOutputHelper?.WriteLine("redis-stream throughput: " + string.Join("; ", results));
    }
}
