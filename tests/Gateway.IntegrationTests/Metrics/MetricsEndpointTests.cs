using System.Globalization;
using System.Net.WebSockets;
using System.Text.RegularExpressions;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Metrics;

/// <summary>/metrics over HTTP follows real traffic.</summary>
public sealed partial class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_FramesFlowAndReconnect_CountersMoveWithSocketLabel()
    {
        var socket = "m" + Guid.NewGuid().ToString("N")[..8];
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 5; i++)
            {
                await s.SendTextAsync("0123456789");

                // Far slower than one frame per FrameDispatcher.TimingInterval: (nearly) every frame is timed.
                await Task.Delay(30);
            }

            if (s.Number == 1)
            {
                await s.CloseAsync(WebSocketCloseStatus.NormalClosure);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket(socket, server.Url()));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 10, "both connections delivered");

        using var response = await gateway.Http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(10, Value(text, "gateway_frames_received_total", socket));
        Assert.Equal(100, Value(text, "gateway_frames_received_size_bytes_total", socket));
        Assert.Equal(2, Value(text, "gateway_socket_connection_attempts_total", socket));
        Assert.Equal(1, Value(text, "gateway_socket_reconnects_total", socket));
        Assert.Equal(1, Value(text, "gateway_socket_active_connections", socket));
        // A stalled client can still read two frames within a millisecond of each other.
        Assert.InRange(Value(text, "gateway_frame_lag_seconds_count", socket), 8, 10);
        Assert.Equal(10, Value(text, "gateway_frames_handled_total", socket));
        Assert.Contains("# TYPE gateway_handler_duration_seconds histogram", text, StringComparison.Ordinal);

        // Buckets in seconds from 10 µs to 10 s, not the SDK's default 0 to 10,000.
        string[] bounds = ["1E-05", "5E-05", "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "+Inf"];
        foreach (var histogram in (string[])["gateway_handler_duration_seconds", "gateway_frame_lag_seconds"])
        {
            var le = text.Split('\n').Where(l => l.StartsWith(histogram + "_bucket{", StringComparison.Ordinal) && l.Contains($"gateway_socket=\"{socket}\"", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf("le=\"", StringComparison.Ordinal) + 4)..l.IndexOf("\"}", StringComparison.Ordinal)]);
            Assert.Equal(bounds, le);
        }

        Assert.Contains(text.Split('\n'), l => l.StartsWith("gateway_socket_active_connections{", StringComparison.Ordinal)
            && l.Contains("gateway_protocol=\"Raw\"", StringComparison.Ordinal) && l.Contains($"gateway_socket=\"{socket}\"", StringComparison.Ordinal)
            && l.Contains("otel_scope_name=\"Gateway\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));

        // The OpenTelemetry exporter, with the gateway as the resource.
        Assert.Contains(text.Split('\n'), l => l.StartsWith("target_info{", StringComparison.Ordinal) && l.Contains("service_name=\"gateway\"", StringComparison.Ordinal));

        // ASP.NET Core and runtime meters are exported too.
        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes_total", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_BurstFasterThanTimingInterval_TimingsBoundedCountsExact()
    {
        var socket = "b" + Guid.NewGuid().ToString("N")[..8];
        var burst = new byte[64];
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 5000; i++)
            {
                await s.SendAsync(burst, WebSocketMessageType.Binary);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket(socket, server.Url()));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5000, "the burst was handled");

        var text = await gateway.Http.GetStringAsync("/metrics");

        Assert.Equal(5000, Value(text, "gateway_frames_handled_total", socket));
        Assert.InRange(Value(text, "gateway_frame_lag_seconds_count", socket), 1, 4999);
    }

    [Fact]
    public async Task Metrics_EveryDocumentedMetric_MatchesScrapeOfRealHostWithTypeAndLabels()
    {
        var documented = DocumentedMetrics();
        await using var feed = await UpstreamServer.StartAsync(async s =>
        {
            await s.SendTextAsync("0123456789");
            await s.SendTextAsync("boom");
            if (s.Number == 1)
            {
                await s.CloseAsync(WebSocketCloseStatus.NormalClosure);
            }
        });
        await using var big = await UpstreamServer.StartAsync(s => s.SendAsync(new byte[2048], WebSocketMessageType.Binary));
        await using var refusing = await UpstreamServer.StartIdleAsync();
        refusing.RejectHandshake = _ => 503;
        var config = new TestConfig()
            .Socket("ok", feed.Url(), ("Handlers:0", RecordingFrameHandler.Name), ("Handlers:1", ThrowingFrameHandler.Name))
            .Socket("big", big.Url(), ("MaxMessageSize", "1024"))
            .Socket("down", refusing.Url(), ("Outbound:Capacity", "1"));
        await using var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => gateway.Recorder.For("ok").Count() == 4, "both connections of ok delivered");
        await Eventually.TrueAsync(() => gateway.Status("big").FramesDropped >= 1 && gateway.Status("down").ReconnectAttempt >= 1, "big dropped a frame and down was refused");
        Assert.Equal(SendStatus.Sent, (await gateway.Sender.SendTextAsync("ok", "up")).Status);
        Assert.Equal(SendStatus.Queued, (await gateway.Sender.SendTextAsync("down", "first")).Status);
        Assert.Equal(SendStatus.QueueFull, (await gateway.Sender.SendTextAsync("down", "second")).Status);
        await gateway.ReloadAsync(config.Without("down"));

        var scrapeText = await gateway.Http.GetStringAsync("/metrics");
        var scraped = Scrape(scrapeText);

        // Everything the gateway's meter exports is documented, with its type and labels, and nothing more.
        var exported = scraped.Where(m => m.Key.StartsWith("gateway_", StringComparison.Ordinal)).ToDictionary();
        Assert.Equal(documented.Keys.Where(k => k.StartsWith("gateway_", StringComparison.Ordinal)).Order(), exported.Keys.Order());
        foreach (var (name, doc) in documented)
        {
            Assert.True(scraped.TryGetValue(name, out var seen), $"{name} is documented but not in the scrape");
            Assert.True(doc.Type == seen.Type, $"{name}: documented as {doc.Type}, exported as {seen.Type}");
            if (name.StartsWith("gateway_", StringComparison.Ordinal))
            {
                Assert.True(doc.Labels.SetEquals(seen.Labels), $"{name}: documented labels {string.Join(",", doc.Labels.Order())}, exported {string.Join(",", seen.Labels.Order())}");
            }
        }
    }

    private sealed record MetricFamily(string Type, HashSet<string> Labels);

    /// <summary>The metric tables of docs/operations.md: rows whose first cell is one backticked metric name.</summary>
    private static Dictionary<string, MetricFamily> DocumentedMetrics()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
        {
            dir = dir.Parent;
        }

        var doc = File.ReadAllLines(Path.Combine(dir?.FullName ?? throw new InvalidOperationException("no Gateway.sln above the tests"), "docs", "operations.md"));
        var metrics = new Dictionary<string, MetricFamily>();
        foreach (var line in doc)
        {
            var row = DocumentedRow().Match(line);
            if (row.Success)
            {
                var labels = BacktickedName().Matches(row.Groups["labels"].Value).Select(m => m.Groups[1].Value).ToHashSet();
                metrics.Add(row.Groups["name"].Value, new MetricFamily(row.Groups["type"].Value, labels));
            }
        }

        Assert.True(metrics.Count >= 20, $"found only {metrics.Count} documented metrics");
        return metrics;
    }

    /// <summary>Metric families of a Prometheus text scrape, with the labels their series carry (scope labels aside).</summary>
    private static Dictionary<string, MetricFamily> Scrape(string text)
    {
        var families = new Dictionary<string, MetricFamily>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                families[parts[2]] = new MetricFamily(parts[3], []);
            }
            else if (line.Length > 0 && line[0] != '#')
            {
                var name = line[..line.IndexOfAny(['{', ' '])];
                var family = families.Keys.Where(f => name == f || (name.StartsWith(f + "_", StringComparison.Ordinal) && name[(f.Length + 1)..] is "bucket" or "sum" or "count")).MaxBy(f => f.Length)
                    ?? throw new InvalidOperationException($"series {name} has no # TYPE");
                foreach (Match label in LabelName().Matches(line[name.Length..]))
                {
                    if (!label.Groups[1].Value.StartsWith("otel_scope_", StringComparison.Ordinal) && label.Groups[1].Value != "le")
                    {
                        families[family].Labels.Add(label.Groups[1].Value);
                    }
                }
            }
        }

        return families;
    }

    [GeneratedRegex(@"^\| `(?<name>[a-z_]+)` \| (?<type>counter|gauge|histogram) \|[^|]*\|(?<labels>[^|]*)\|")]
    private static partial Regex DocumentedRow();

    [GeneratedRegex("`([a-z_]+)`")]
    private static partial Regex BacktickedName();

    [GeneratedRegex(@"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=""")]
    private static partial Regex LabelName();

    private static double Value(string text, string metric, string socket)
    {
        var line = text.Split('\n').Single(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains($"gateway_socket=\"{socket}\"", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
