using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Gateway.Host.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Host.Tests.Handlers;

public sealed class RedisStreamSinkTests
{
    private static readonly DateTimeOffset s_receivedAt = new(2026, 12, 2, 10, 0, 0, 123, TimeSpan.Zero);
    private static readonly UpstreamConnection s_connection = new("prices", 2, new Uri("ws://h/"), null, DateTimeOffset.UnixEpoch);

    private static Frame NewFrame(string headers = "", FrameKind kind = FrameKind.Text, byte[]? payload = null, long seq = 7)
        => new(s_connection, seq, kind, payload ?? "hi"u8.ToArray(), new FrameHeaders(Encoding.UTF8.GetBytes(headers)), s_receivedAt, 0);

    private static Dictionary<string, RedisValue> Fields(NameValueEntry[] entry) => entry.ToDictionary(e => e.Name.ToString(), e => e.Value);

    [Fact]
    public void CreateEntry_TextFrameWithoutHeaders_HasTheSixFieldsInOrder()
    {
        var entry = RedisStreamSink.CreateEntry(NewFrame());

        Assert.Equal(["socket", "seq", "connection", "receivedAt", "kind", "payload"], entry.Select(e => e.Name.ToString()));
        var fields = Fields(entry);
        Assert.Equal("prices", fields["socket"].ToString());
        Assert.Equal(7, (long)fields["seq"]);
        Assert.Equal(2, (long)fields["connection"]);
        Assert.Equal("2026-12-02T10:00:00.1230000+00:00", fields["receivedAt"].ToString());
        Assert.Equal("text", fields["kind"].ToString());
        Assert.Equal("hi"u8.ToArray(), (byte[]?)fields["payload"]);
    }

    [Fact]
    public void CreateEntry_BinaryFrame_KeepsTheBytesAsTheyCame()
    {
        byte[] payload = [0x00, 0xFF, 0xC3, 0x28, 0x0A];
        var fields = Fields(RedisStreamSink.CreateEntry(NewFrame(kind: FrameKind.Binary, payload: payload)));

        Assert.Equal("binary", fields["kind"].ToString());
        Assert.Equal(payload, (byte[]?)fields["payload"]);
    }

    [Fact]
    public void CreateEntry_Headers_OneFieldEachFirstValueWinsDecoded()
    {
        var entry = RedisStreamSink.CreateEntry(NewFrame(
            "destination:/topic/a\r\ntraceparent:00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\ndestination:/topic/b\nmessage-id:m\\c1\n\n"));

        Assert.Equal(["socket", "seq", "connection", "receivedAt", "kind", "payload", "h:destination", "h:traceparent", "h:message-id"], entry.Select(e => e.Name.ToString()));
        var fields = Fields(entry);
        Assert.Equal("/topic/a", fields["h:destination"].ToString());
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", fields["h:traceparent"].ToString());
        Assert.Equal("m:1", fields["h:message-id"].ToString());
    }

    [Fact]
    public void CreateEntry_PayloadBufferReusedAfterwards_EntryKeepsItsCopy()
    {
        var buffer = "abc"u8.ToArray();
        var entry = RedisStreamSink.CreateEntry(NewFrame(payload: buffer));
        buffer.AsSpan().Fill((byte)'X');

        Assert.Equal("abc"u8.ToArray(), (byte[]?)Fields(entry)["payload"]);
    }

    [Theory]
    [InlineData("gateway:{socket}", "", "gateway:prices")]
    [InlineData("{socket}", "", "prices")]
    [InlineData("feed", "destination:/queue/x", "feed")]
    [InlineData("gw:{socket}:{destination}", "destination:/queue/x", "gw:prices:/queue/x")]
    [InlineData("gw:{socket}:{destination}", "", "gw:prices:")]
    [InlineData("{topic}/{event}", "topic:room:1\nevent:new_msg", "room:1/new_msg")]
    [InlineData("{topic}/{event}", "event:e\ntopic:t\ntopic:other", "t/e")]
    [InlineData("a{socket}b{socket}c", "", "apricesbpricesc")]
    public void KeyTemplate_Render_FillsPlaceholdersFromTheFrame(string template, string headers, string expected)
        => Assert.Equal(expected, FrameTemplate.Parse(template).Render(NewFrame(headers)));

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("  ", "is empty")]
    [InlineData("gw:{sockets}", "unknown placeholder {sockets}")]
    [InlineData("gw:{Socket}", "unknown placeholder {Socket}")]
    [InlineData("gw:{socket", "unmatched '{'")]
    [InlineData("gw:socket}", "unmatched '}'")]
    [InlineData("gw:{}", "unknown placeholder {}")]
    public void KeyTemplate_TryParse_Invalid_SaysWhy(string template, string expected)
    {
        Assert.False(FrameTemplate.TryParse(template, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Defaults_AreValidAndAsDocumented()
    {
        var options = new RedisStreamSinkOptions();

        Assert.Equal("127.0.0.1:6379", options.Configuration);
        Assert.Equal("gateway:{socket}", options.Key);
        Assert.Equal(1_000_000, options.MaxLength);
        Assert.Equal(SinkFailurePolicy.Retry, options.OnFailure);
        Assert.True(options.Required);
        Assert.Equal(TimeSpan.FromSeconds(5), options.MaxRetryDelay);
        Assert.True(new RedisStreamSinkOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void Options_Invalid_EveryProblemReportedWithoutThePassword()
    {
        var result = new RedisStreamSinkOptionsValidator().Validate(null, new RedisStreamSinkOptions
        {
            Configuration = "127.0.0.1:6379,password=hunter2,connectTimeout=soon",
            Key = "gw:{nope}",
            MaxLength = -1,
            OnFailure = (SinkFailurePolicy)7,
            MaxRetryDelay = TimeSpan.Zero,
        });

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(5, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("Gateway:Handlers:redis-stream:Configuration cannot be parsed", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Key 'gw:{nope}' has an unknown placeholder {nope}", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MaxLength", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("OnFailure", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MaxRetryDelay", StringComparison.Ordinal));
        Assert.DoesNotContain("hunter2", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("password=only")]
    public void Options_ConfigurationWithoutEndpoint_Fails(string configuration)
    {
        var result = new RedisStreamSinkOptionsValidator().Validate(null, new RedisStreamSinkOptions { Configuration = configuration });

        Assert.True(result.Failed);
        Assert.Contains("Configuration", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("only", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Sink_NotUsedYet_IsIdleNotRequiredAndHidesThePassword()
    {
        using var sink = new RedisStreamSink(Options.Create(new RedisStreamSinkOptions { Configuration = "redis.internal:6380,password=hunter2,ssl=true", Required = true }),
            NullLogger<RedisStreamSink>.Instance, TimeProvider.System);

        Assert.Equal("redis-stream", sink.Name);
        Assert.False(sink.Required); // registered for every gateway: only a sink in use counts for readiness
        Assert.Equal(SinkState.Idle, sink.State);
        Assert.Null(sink.LastError);
        Assert.Equal((0, 0, 0), (sink.InFlight, sink.Confirmed, sink.Failed));
        Assert.Contains("redis.internal:6380", sink.DisplayConfiguration, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", sink.DisplayConfiguration, StringComparison.Ordinal);
    }

    [Fact]
    public void AddGateway_RegistersTheHandlerTheHealthAndBindsTheSection()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Handlers:redis-stream:Key"] = "feed:{destination}",
            ["Gateway:Handlers:redis-stream:OnFailure"] = "Fail",
            ["Gateway:Handlers:redis-stream:MaxLength"] = "0",
            ["Gateway:Handlers:redis-stream:MaxRetryDelay"] = "00:00:02",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddGateway(configuration).Services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<RedisStreamSinkOptions>>().Value;
        Assert.Equal(("feed:{destination}", SinkFailurePolicy.Fail, 0L, TimeSpan.FromSeconds(2)), (options.Key, options.OnFailure, options.MaxLength, options.MaxRetryDelay));
        var handler = provider.GetRequiredKeyedService<IFrameHandler>("redis-stream");
        Assert.Same(handler, Assert.Single(provider.GetServices<ISinkHealth>(), s => s.Name == "redis-stream"));
    }
}
