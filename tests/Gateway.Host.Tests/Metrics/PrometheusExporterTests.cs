using System.Diagnostics.Metrics;
using Gateway.Host.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Gateway.Host.Tests.Metrics;

/// <summary>The Prometheus text exposition format (0.0.4) rendered from the OpenTelemetry SDK.</summary>
public sealed class PrometheusExporterTests : IDisposable
{
    private readonly Meter _meter = new("Test.Prometheus." + Guid.NewGuid());
    private readonly PrometheusExporter _exporter = new();
    private readonly MeterProvider _provider;

    public PrometheusExporterTests()
        => _provider = Sdk.CreateMeterProviderBuilder().AddMeter(_meter.Name).AddReader(_exporter.Reader).Build();

    public void Dispose()
    {
        _provider.Dispose();
        _meter.Dispose();
    }

    [Fact]
    public void Scrape_CounterWithAnnotationUnit_TotalSuffixHelpTypeAndLabels()
    {
        var counter = _meter.CreateCounter<long>("gateway.frames.received", "{frame}", "Messages read.");
        counter.Add(3, new KeyValuePair<string, object?>("gateway.socket", "a"));
        counter.Add(2, new KeyValuePair<string, object?>("gateway.socket", "b"));
        counter.Add(4, new KeyValuePair<string, object?>("gateway.socket", "a"));

        var text = _exporter.Scrape();

        Assert.Contains("# HELP gateway_frames_received_total Messages read.\n# TYPE gateway_frames_received_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_frames_received_total{gateway_socket=\"a\"} 7\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_frames_received_total{gateway_socket=\"b\"} 2\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_ByteCounter_BytesUnitSuffixBeforeTotal()
    {
        _meter.CreateCounter<long>("gateway.frames.received.size", "By", "Payload bytes.").Add(1500);

        var text = _exporter.Scrape();

        Assert.Contains("# TYPE gateway_frames_received_size_bytes_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_frames_received_size_bytes_total 1500\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_UpDownCounterAndGauge_RenderedAsGaugesWithoutTotal()
    {
        var active = _meter.CreateUpDownCounter<long>("gateway.socket.active_connections", "{connection}", "Open connections.");
        active.Add(3);
        active.Add(-1);
        _meter.CreateObservableGauge("gateway.queue.depth", () => 2.5, "{frame}", "Queued.");

        var text = _exporter.Scrape();

        Assert.Contains("# TYPE gateway_socket_active_connections gauge\ngateway_socket_active_connections 2\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE gateway_queue_depth gauge\ngateway_queue_depth 2.5\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("active_connections_total", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_HistogramInSeconds_CumulativeBucketsInfSumAndCount()
    {
        var histogram = _meter.CreateHistogram("gateway.handler.duration", "s", "Handler time.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.01, 0.1] });
        foreach (var value in new[] { 0.0005, 0.005, 0.006, 0.05, 2.0 })
        {
            histogram.Record(value, new KeyValuePair<string, object?>("gateway.handler", "log"));
        }

        var text = _exporter.Scrape();

        Assert.Contains("# TYPE gateway_handler_duration_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_handler_duration_seconds_bucket{gateway_handler=\"log\",le=\"0.001\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_handler_duration_seconds_bucket{gateway_handler=\"log\",le=\"0.01\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_handler_duration_seconds_bucket{gateway_handler=\"log\",le=\"0.1\"} 4\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_handler_duration_seconds_bucket{gateway_handler=\"log\",le=\"+Inf\"} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_handler_duration_seconds_sum{gateway_handler=\"log\"} 2.0615\n", text, StringComparison.Ordinal);
        Assert.Contains("gateway_handler_duration_seconds_count{gateway_handler=\"log\"} 5\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_LabelValuesWithQuoteBackslashNewline_Escaped()
    {
        _meter.CreateCounter<long>("errors", description: "Line one\nline two \\ end").Add(1, new KeyValuePair<string, object?>("error.type", "a\"b\\c\nd"));

        var text = _exporter.Scrape();

        Assert.Contains("# HELP errors_total Line one\\nline two \\\\ end\n", text, StringComparison.Ordinal);
        Assert.Contains("errors_total{error_type=\"a\\\"b\\\\c\\nd\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_EveryLine_IsCommentOrValidSample()
    {
        _meter.CreateCounter<long>("c", "{x}").Add(1, new KeyValuePair<string, object?>("k", "v"));
        _meter.CreateHistogram<double>("h", "s").Record(0.5);
        _meter.CreateUpDownCounter<int>("u").Add(-2);

        var lines = _exporter.Scrape().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        var sample = new System.Text.RegularExpressions.Regex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*"",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$");
        Assert.All(lines, line => Assert.True(line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal) || sample.IsMatch(line), line));
        Assert.Contains("u -2", lines);
    }

    [Theory]
    [InlineData("gateway.frame.lag", "s", false, "gateway_frame_lag_seconds")]
    [InlineData("requests", "ms", true, "requests_milliseconds_total")]
    [InlineData("process.cpu.time", "s", true, "process_cpu_time_seconds_total")]
    [InlineData("utilization", "1", false, "utilization")]
    [InlineData("9lives", null, false, "_9lives")]
    [InlineData("already_total", "{x}", true, "already_total")]
    [InlineData("dotnet.gc.heap.total_allocated", "By", true, "dotnet_gc_heap_total_allocated_bytes_total")]
    public void MetricName_OpenTelemetryNameAndUnit_PrometheusName(string name, string? unit, bool isCounter, string expected)
        => Assert.Equal(expected, PrometheusTextWriter.MetricName(name, unit, isCounter));

    [Theory]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(0.25, "0.25")]
    [InlineData(-3.0, "-3")]
    public void Number_SpecialAndOrdinaryValues_PrometheusSpelling(double value, string expected)
        => Assert.Equal(expected, PrometheusTextWriter.Number(value));
}
