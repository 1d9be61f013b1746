using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.IntegrationTests;

/// <summary>The built gateway as a real process, configured by environment variables alone.</summary>
public sealed class ProcessTests
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Process_SocketFromEnvironmentToFileHandler_EveryFrameAcrossServerRestartThenCleanSigterm()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 50; i++)
            {
                await s.SendTextAsync($"{{\"life\":{s.Number},\"i\":{i}}}");
            }
        });
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
            ["Gateway__Sockets__feed__Handlers__0"] = "file",
            ["Gateway__Sockets__feed__Reconnect__MinDelay"] = "00:00:00.100",
            ["Gateway__Handlers__file__Directory"] = "{dir}",
        });
        await Eventually.TrueAsync(() => gateway.Get("/health/ready") == HttpStatusCode.OK, "the process is ready", s_startTimeout);
        var file = gateway.File("feed.jsonl");
        await Eventually.TrueAsync(() => GatewayProcess.ReadLines(file).Count == 50, "the first life's frames are in the file");

        await server.RestartAsync();
        await Eventually.TrueAsync(() => GatewayProcess.ReadLines(file).Count == 100, "the second life's frames are in the file", s_startTimeout);

        var lines = GatewayProcess.ReadLines(file).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), lines.Select(l => l.GetProperty("seq").GetInt64()));
        Assert.All(lines, l => Assert.Equal("feed", l.GetProperty("socket").GetString()));
        Assert.All(lines, l => Assert.Equal("text", l.GetProperty("kind").GetString()));
        Assert.All(lines, l => Assert.True(l.GetProperty("receivedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5)));
        Assert.Equal(
            Enumerable.Range(0, 50).Select(i => $"{{\"life\":1,\"i\":{i}}}").Concat(Enumerable.Range(0, 50).Select(i => $"{{\"life\":2,\"i\":{i}}}")),
            lines.Select(l => l.GetProperty("text").GetString()));
        Assert.Equal([1L, 2L], lines.Select(l => l.GetProperty("connection").GetInt64()).Distinct());

        // SIGTERM: the process closes the upstream with 1001 and exits 0 within the shutdown timeout.
        await gateway.TerminateAsync();
        await gateway.WaitForExitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(0, gateway.ExitCode);
        await server.LastSession!.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, server.LastSession.ClientCloseStatus);
    }

    [Fact]
    public async Task Process_SigtermMidStream_ExitsZeroAndEveryReceivedFrameHandledOrReported()
    {
        var sent = 0;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 200_000 && s.Socket.State == WebSocketState.Open; i++)
            {
                await s.SendTextAsync($"{{\"i\":{i}}}");
                Interlocked.Increment(ref sent);
            }
        });
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
            ["Gateway__Sockets__feed__Handlers__0"] = "file",
            ["Gateway__Sockets__feed__Queue__Capacity"] = "256",
            ["Gateway__Handlers__file__Directory"] = "{dir}",
            ["Gateway__ShutdownTimeout"] = "00:00:05",
        });
        var file = gateway.File("feed.jsonl");
        await Eventually.TrueAsync(() => GatewayProcess.ReadLines(file).Count > 2000, "frames are streaming into the file", s_startTimeout);

        await gateway.TerminateAsync();
        await gateway.WaitForExitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(0, gateway.ExitCode);
        var summary = gateway.Output.Select(l => JsonDocument.Parse(l).RootElement)
            .Single(e => e.TryGetProperty("EventId", out var id) && id.TryGetProperty("Id", out var value) && value.GetInt32() == 114);
        var received = summary.GetProperty("FramesReceived").GetInt64();
        var handled = summary.GetProperty("FramesHandled").GetInt64();
        var dropped = summary.GetProperty("FramesDropped").GetInt64();
        var written = GatewayProcess.ReadLines(file);
        Assert.Equal(received, handled + dropped);
        Assert.Equal(handled, written.Count);
        Assert.InRange(received, 2000, Volatile.Read(ref sent));

        // What was handled is exactly the stream's prefix, in order: nothing skipped silently.
        Assert.Equal(Enumerable.Range(1, written.Count).Select(i => (long)i), written.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, server.LastSession!.ClientCloseStatus);
    }

    [Fact]
    public async Task Process_InvalidEnvironmentConfiguration_ExitsNonZeroNamingTheKeyWithoutSecrets()
    {
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__prices__Url"] = "http://x",
            ["Gateway__Sockets__vault__Url"] = "http://bob:pw-SECRET-1@vault.invalid/feed?token=SECRET-2",
        });

        await gateway.WaitForExitAsync(s_startTimeout);

        Assert.NotEqual(0, gateway.ExitCode);
        var output = string.Join('\n', gateway.Output);
        Assert.Contains("Gateway:Sockets:prices:Url: 'http://x' is not a ws:// or wss:// URL", output, StringComparison.Ordinal);
        Assert.Contains("Gateway:Sockets:vault:Url: 'http://vault.invalid/feed?redacted' is not a ws:// or wss:// URL", output, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", output, StringComparison.Ordinal);

        // The per-key list, and no stack trace: not in the plain lines, not in the JSON log lines.
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed to start", output, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Output, l => l.Contains("\"@x\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Process_PortInUse_ExitsOneWithOneClearLine()
    {
        using var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        });

        await gateway.WaitForExitAsync(s_startTimeout);

        Assert.Equal(1, gateway.ExitCode);
        var output = string.Join('\n', gateway.Output);
        Assert.Contains($"Cannot listen: Failed to bind to address http://127.0.0.1:{port}", output, StringComparison.Ordinal);
        Assert.Contains("ASPNETCORE_URLS", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_DemoDisabledFromEnvironmentButAbsentFromTheFile_StartsAndListsItDisabled()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("tick"));
        var appsettings = $$"""{ "Gateway": { "Defaults": { "Handlers": [ "log" ] }, "Sockets": { "feed": { "Url": "{{server.Url()}}" } } } }""";
        await using var gateway = GatewayProcess.Start(new() { ["Gateway__Sockets__demo__Enabled"] = "false" }, new() { ["appsettings.json"] = appsettings });

        await Eventually.TrueAsync(() => gateway.Get("/health/ready") == HttpStatusCode.OK, "ready with the feed up and the demo disabled", s_startTimeout);
        var sockets = JsonDocument.Parse(await gateway.Http.GetStringAsync("/sockets")).RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal("Disabled", sockets["demo"].GetProperty("state").GetString());
        Assert.Equal("Ready", sockets["feed"].GetProperty("state").GetString());
        Assert.Contains(gateway.Output, l => l.Contains("\"EventId\":{\"Id\":407", StringComparison.Ordinal) && l.Contains("demo", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{ \"Gateway\": { \"Sockets\": { ", "open JSON object", "LineNumber: ")]
    [InlineData("{ \"Gateway\": { \"Sockets\": { \"feed\": { \"Url\": \"ws://a/\" }, \"FEED\": { \"Url\": \"ws://b/\" } } } }", "A duplicate key 'Gateway:Sockets:FEED:Url' was found", "differ only in case")]
    public async Task Process_MalformedAppsettingsFile_ExitsOneWithOneClearLineNamingTheFile(string content, string problem, string detail)
    {
        await using var gateway = GatewayProcess.Start([], new() { ["appsettings.json"] = content });

        await gateway.WaitForExitAsync(s_startTimeout);

        Assert.Equal(1, gateway.ExitCode);
        var line = Assert.Single(gateway.Output);
        Assert.StartsWith("Invalid configuration file: Failed to load configuration from file '", line, StringComparison.Ordinal);
        Assert.Contains("appsettings.json'", line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
        Assert.Contains(detail, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_SecretsInUrlAndHeaders_NeverLoggedAndLogsAreJsonLines()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("payload"));
        server.RejectHandshake = _ => server.HandshakeHeaders.Count <= 2 ? 401 : null;
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = $"ws://carol:pw-SECRET-1@127.0.0.1:{server.Port}/ws?apikey=SECRET-2",
            ["Gateway__Sockets__feed__Headers__Authorization"] = "Bearer SECRET-3",
            ["Gateway__Sockets__feed__Headers__X-Api-Key"] = "SECRET-4",
            ["Gateway__Sockets__feed__Reconnect__MinDelay"] = "00:00:00.050",
            ["Serilog__MinimumLevel__Default"] = "Debug",
        });

        await Eventually.TrueAsync(() => gateway.Output.Any(l => l.Contains("payload", StringComparison.Ordinal)), "the frame was logged after two refused handshakes", s_startTimeout);
        var health = await gateway.Http.GetStringAsync("/health/ready");
        var metrics = await gateway.Http.GetStringAsync("/metrics");
        var sockets = await gateway.Http.GetStringAsync("/sockets");

        // The secrets did reach the server...
        Assert.Equal("Bearer SECRET-3", server.HandshakeHeaders.Last()["Authorization"].ToString());
        Assert.Equal("SECRET-2", server.LastSession!.Context.Request.Query["apikey"].ToString());

        // ...and nowhere else.
        Assert.Contains(gateway.Output, l => l.Contains("HTTP 401", StringComparison.Ordinal));
        foreach (var text in gateway.Output.Append(health).Append(metrics).Append(sockets))
        {
            Assert.DoesNotContain("SECRET", text, StringComparison.Ordinal);
            Assert.DoesNotContain("pw-", text, StringComparison.Ordinal);
        }

        // Outside Development every log line is one CLEF object.
        Assert.All(gateway.Output, l => Assert.True(IsClef(l), l));
    }

    [Fact]
    public async Task Process_Production_LogsAreClefWithRequestLogsAndProbesBelowInformation()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("payload"));
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
        });
        await Eventually.TrueAsync(() => gateway.Get("/health/ready") == HttpStatusCode.OK, "the process is ready", s_startTimeout);
        Assert.Equal(HttpStatusCode.OK, gateway.Get("/metrics"));
        Assert.Equal(HttpStatusCode.OK, gateway.Get("/sockets"));
        Assert.Equal(HttpStatusCode.NotFound, gateway.Get("/nothing-here"));

        static bool IsRequestLog(JsonElement e, string path) => e.TryGetProperty("RequestPath", out var p) && p.GetString() == path && e.TryGetProperty("StatusCode", out _);
        await Eventually.TrueAsync(() => Events(gateway).Any(e => IsRequestLog(e, "/nothing-here")), "the requests were logged", s_startTimeout);

        Assert.All(gateway.Output, l => Assert.True(IsClef(l), l));
        var events = Events(gateway);
        var sockets = Assert.Single(events, e => IsRequestLog(e, "/sockets"));
        Assert.Equal("HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", sockets.GetProperty("@mt").GetString());
        Assert.False(sockets.TryGetProperty("@l", out _)); // CLEF leaves Information out
        Assert.Equal(200, sockets.GetProperty("StatusCode").GetInt32());
        Assert.Equal("GET", sockets.GetProperty("RequestMethod").GetString());
        Assert.Equal(404, Assert.Single(events, e => IsRequestLog(e, "/nothing-here")).GetProperty("StatusCode").GetInt32());

        // Probes and scrapes are logged at Debug, below the default level.
        Assert.DoesNotContain(events, e => IsRequestLog(e, "/health/ready") || IsRequestLog(e, "/metrics"));

        // The gateway's own events keep their event ids and properties.
        var connected = Assert.Single(events, e => e.TryGetProperty("EventId", out var id) && id.GetProperty("Id").GetInt32() == 101);
        Assert.Equal("feed", connected.GetProperty("SocketName").GetString());
        Assert.Equal("Gateway.Host.Sockets.SocketConnection", connected.GetProperty("SourceContext").GetString());
    }

    private static List<JsonElement> Events(GatewayProcess gateway) => [.. gateway.Output.Where(IsClef).Select(l => JsonDocument.Parse(l).RootElement)];

    /// <summary>A Compact Log Event Format line: one JSON object with a timestamp and a message template.</summary>
    private static bool IsClef(string line)
    {
        try
        {
            var root = JsonDocument.Parse(line).RootElement;
            return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("@t", out var t) && t.TryGetDateTimeOffset(out _) && root.TryGetProperty("@mt", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Process_ProxyFromEnvironment_ConnectionGoesThroughTheProxy()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("via proxy"));
        await using var proxy = new Transport.TestProxy();
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
            ["Gateway__Sockets__feed__Handlers__0"] = "file",
            ["Gateway__Handlers__file__Directory"] = "{dir}",
            ["HTTP_PROXY"] = proxy.Url.ToString(),
            ["http_proxy"] = proxy.Url.ToString(),
            ["NO_PROXY"] = string.Empty,
            ["no_proxy"] = string.Empty,
        });

        await Eventually.TrueAsync(() => GatewayProcess.ReadLines(gateway.File("feed.jsonl")).Count == 1, "the frame arrived", s_startTimeout);
        Assert.Contains(proxy.RequestLines, l => l.Contains($"127.0.0.1:{server.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Process_OtlpEndpointSet_PushesGatewayMetricsAndConnectSpansOverOtlpHttp()
    {
        await using var feed = await UpstreamServer.StartAsync(s => s.SendTextAsync("tick"));
        var bodies = new ConcurrentQueue<byte[]>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        var traces = new ConcurrentQueue<byte[]>();
        collector.MapPost("/v1/metrics", (HttpRequest request) => ReceiveAsync(request, bodies));
        collector.MapPost("/v1/traces", (HttpRequest request) => ReceiveAsync(request, traces));
        await collector.StartAsync();
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__otlpfeed__Url"] = feed.Url().ToString(),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Urls.First(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_SERVICE_NAME"] = "gateway-under-test",
        });

        static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
        await Eventually.TrueAsync(
            () => bodies.Any(b => Contains(b, "gateway.frames.received") && Contains(b, "otlpfeed")),
            "an OTLP export carried the gateway's frame counter for the socket", s_startTimeout);
        Assert.Contains(bodies, b => Contains(b, "gateway-under-test"));

        // The connection attempt's span, with its outcome; the upgrade request carried its trace context.
        await Eventually.TrueAsync(
            () => traces.Any(b => Contains(b, "gateway.connect") && Contains(b, "otlpfeed") && Contains(b, "gateway.outcome") && Contains(b, "ready")),
            "an OTLP export carried the connect span of the socket", s_startTimeout);
        Assert.Contains("traceparent", feed.HandshakeHeaders.Last().Keys);
    }

    private static async Task<IResult> ReceiveAsync(HttpRequest request, ConcurrentQueue<byte[]> into)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        into.Enqueue(body.ToArray());
        return Results.Ok();
    }
}
