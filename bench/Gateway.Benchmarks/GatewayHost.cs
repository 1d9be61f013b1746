using System.Globalization;
using Gateway.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Benchmarks;

/// <summary>
/// The gateway's real wiring (<c>AddGateway</c> plus the counting <see cref="NoopHandler"/>) in a
/// generic host without HTTP listening, over a replaceable in-memory configuration.
/// </summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly ReloadableConfigurationSource _configuration;

    private GatewayHost(IHost host, ReloadableConfigurationSource configuration, FrameCounter counter, LogTally logs)
    {
        _host = host;
        _configuration = configuration;
        Counter = counter;
        Logs = logs;
    }

    public FrameCounter Counter { get; }

    /// <summary>Receive-to-handler latency, recorded by the handler while started.</summary>
    public LatencyRecorder Latency { get; private init; } = new();

    public IServiceProvider Services => _host.Services;

    public LogTally Logs { get; }

    /// <summary>Configuration with sockets <c>{prefix}{i}</c>, i in [0, count), all to <paramref name="url"/> with the noop handler.</summary>
    public static Dictionary<string, string?> Configuration(Uri url, int count, string prefix = "s", Dictionary<string, string?>? into = null)
    {
        var data = into ?? new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:ShutdownTimeout"] = "00:00:10",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        for (var i = 0; i < count; i++)
        {
            var key = "Gateway:Sockets:" + prefix + i.ToString(CultureInfo.InvariantCulture);
            data[key + ":Url"] = url.ToString();
            data[key + ":Handlers:0"] = NoopHandler.Name;
        }

        return data;
    }

    public static async Task<GatewayHost> StartAsync(IDictionary<string, string?> configuration)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Benchmark",
        });
        var source = new ReloadableConfigurationSource(configuration);
        ((IConfigurationBuilder)builder.Configuration).Add(source);
        var logs = new LogTally("gateway");
        builder.Logging.ClearProviders()
            .AddConfiguration(builder.Configuration.GetSection("Logging"))
            .AddProvider(logs)
            .SetMinimumLevel(LogLevel.Warning);
        var counter = new FrameCounter();
        builder.Services.AddSingleton(counter);
        var latency = new LatencyRecorder();
        builder.Services.AddSingleton(latency);
        builder.Services.AddGateway(builder.Configuration).AddFrameHandler<NoopHandler>(NoopHandler.Name);
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        var host = builder.Build();
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new GatewayHost(host, source, counter, logs) { Latency = latency };
    }

    /// <summary>Replaces the whole configuration, as a file change would (the supervisor applies the diff).</summary>
    public void Reload(IDictionary<string, string?> configuration) => _configuration.Replace(configuration);

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await _host.StopAsync(timeout.Token).ConfigureAwait(false);
        }

        _host.Dispose();
    }
}
