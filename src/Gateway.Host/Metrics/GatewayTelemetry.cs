using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Gateway.Host.Metrics;

/// <summary>
/// Owns the OpenTelemetry <see cref="MeterProvider"/> for the host's lifetime (wired by hand:
/// OpenTelemetry.Extensions.Hosting is not in our package source). Always feeds <c>/metrics</c>;
/// also pushes OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
internal sealed class GatewayTelemetry(PrometheusExporter prometheus, IConfiguration configuration) : IHostedService, IDisposable
{
    /// <summary>The meters exported: the gateway's own, ASP.NET Core's, and the .NET runtime's.</summary>
    public static readonly string[] MeterNames =
    [
        GatewayMetrics.MeterName,
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Diagnostics",
        "System.Runtime",
        "System.Net.Http",
        "System.Net.NameResolution",
    ];

    private MeterProvider? _provider;

    public bool OtlpEnabled { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .AddMeter(MeterNames)
            .AddReader(prometheus.Reader);
        OtlpEnabled = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (OtlpEnabled)
        {
            // Endpoint, protocol, headers and interval come from the standard OTEL_* variables.
            builder.AddOtlpExporter();
        }

        _provider = builder.Build();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _provider?.ForceFlush(timeoutMilliseconds: 5000);
        return Task.CompletedTask;
    }

    public void Dispose() => _provider?.Dispose();
}
