using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Gateway.Host.Metrics;

/// <summary>
/// Serves the OpenTelemetry SDK's metrics in the Prometheus text exposition format (0.0.4). The
/// official Prometheus exporter is not in our package source; this is a pull reader over the SDK:
/// each scrape collects, and the exporter renders the batch while the collect runs.
/// </summary>
/// <remarks>
/// Not marked <c>[ExportModes(Pull)]</c>: the SDK only lets its own internal pull exporters collect
/// in pull-only mode. A plain (non-periodic) exporting reader never pushes by itself anyway.
/// </remarks>
internal sealed class PrometheusExporter : BaseExporter<Metric>
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly Lock _scrapeLock = new();
    private StringBuilder? _output;

    public PrometheusExporter() => Reader = new PullReader(this);

    public MetricReader Reader { get; }

    /// <summary>Collects every instrument now and renders the result.</summary>
    public string Scrape()
    {
        lock (_scrapeLock)
        {
            _output = new StringBuilder(16 * 1024);
            try
            {
                Reader.Collect();
                return _output.ToString();
            }
            finally
            {
                _output = null;
            }
        }
    }

    public override ExportResult Export(in Batch<Metric> batch)
    {
        if (_output is not { } output)
        {
            return ExportResult.Success; // The final collect at shutdown: nobody is scraping.
        }

        foreach (var metric in batch)
        {
            PrometheusTextWriter.Write(output, metric);
        }

        return ExportResult.Success;
    }

    private sealed class PullReader : BaseExportingMetricReader
    {
        public PullReader(BaseExporter<Metric> exporter)
            : base(exporter) => TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
    }
}

/// <summary>Renders one OpenTelemetry metric as Prometheus text: names, units, <c>_total</c>, HELP/TYPE, buckets.</summary>
internal static class PrometheusTextWriter
{
    public static void Write(StringBuilder output, Metric metric)
    {
        var type = metric.MetricType;
        if (type == MetricType.ExponentialHistogram)
        {
            return; // Not representable in the classic text format; no instrument here produces one.
        }

        var isCounter = type is MetricType.LongSum or MetricType.DoubleSum;
        var isHistogram = type == MetricType.Histogram;
        var name = MetricName(metric.Name, metric.Unit, isCounter);
        if (!string.IsNullOrEmpty(metric.Description))
        {
            output.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(metric.Description)).Append('\n');
        }

        output.Append("# TYPE ").Append(name).Append(' ').Append(isCounter ? "counter" : isHistogram ? "histogram" : "gauge").Append('\n');
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point);
            if (isHistogram)
            {
                long cumulative = 0;
                foreach (var bucket in point.GetHistogramBuckets())
                {
                    cumulative += bucket.BucketCount;
                    var le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                    Sample(output, name + "_bucket", WithLabel(labels, "le", le), cumulative.ToString(CultureInfo.InvariantCulture));
                }

                Sample(output, name + "_sum", labels, Number(point.GetHistogramSum()));
                Sample(output, name + "_count", labels, point.GetHistogramCount().ToString(CultureInfo.InvariantCulture));
                continue;
            }

            var value = type switch
            {
                MetricType.LongSum or MetricType.LongSumNonMonotonic => point.GetSumLong().ToString(CultureInfo.InvariantCulture),
                MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => Number(point.GetSumDouble()),
                MetricType.LongGauge => point.GetGaugeLastValueLong().ToString(CultureInfo.InvariantCulture),
                _ => Number(point.GetGaugeLastValueDouble()),
            };
            Sample(output, name, labels, value);
        }
    }

    /// <summary>
    /// <c>gateway.frames.received</c> with unit <c>{frame}</c> becomes <c>gateway_frames_received_total</c>;
    /// <c>gateway.handler.duration</c> in <c>s</c> becomes <c>gateway_handler_duration_seconds</c>.
    /// </summary>
    internal static string MetricName(string name, string? unit, bool isCounter)
    {
        var builder = new StringBuilder(name.Length + 16);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        }

        if (builder.Length > 0 && char.IsAsciiDigit(builder[0]))
        {
            builder.Insert(0, '_');
        }

        var suffix = UnitSuffix(unit);
        var result = builder.ToString();
        if (suffix.Length > 0 && !result.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            result += "_" + suffix;
        }

        if (isCounter && !result.EndsWith("_total", StringComparison.Ordinal))
        {
            result += "_total";
        }

        return result;
    }

    private static string UnitSuffix(string? unit) => unit switch
    {
        null or "" or "1" => string.Empty,
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        _ when unit.StartsWith('{') => string.Empty, // annotations such as {frame} carry no unit
        _ => new string([.. unit.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]),
    };

    private static string Labels(in MetricPoint point)
    {
        var builder = new StringBuilder();
        foreach (var tag in point.Tags)
        {
            AppendLabel(builder, LabelName(tag.Key), Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? string.Empty);
        }

        return builder.ToString();
    }

    private static string WithLabel(string labels, string name, string value)
    {
        var builder = new StringBuilder(labels);
        AppendLabel(builder, name, value);
        return builder.ToString();
    }

    private static void AppendLabel(StringBuilder builder, string name, string value)
    {
        if (builder.Length > 0)
        {
            builder.Append(',');
        }

        builder.Append(name).Append("=\"");
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => builder.Append("\\\\"),
                '"' => builder.Append("\\\""),
                '\n' => builder.Append("\\n"),
                _ => builder.Append(c),
            };
        }

        builder.Append('"');
    }

    internal static string LabelName(string key)
    {
        var name = new string([.. key.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_')]);
        return name.Length > 0 && char.IsAsciiDigit(name[0]) ? "_" + name : name;
    }

    private static void Sample(StringBuilder output, string name, string labels, string value)
    {
        output.Append(name);
        if (labels.Length > 0)
        {
            output.Append('{').Append(labels).Append('}');
        }

        output.Append(' ').Append(value).Append('\n');
    }

    internal static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
