using System.Diagnostics.Metrics;
using System.Net;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Gateway.Testing;

/// <summary>
/// The gateway's real wiring (<c>AddGateway</c>, <c>MapGateway</c>) on Kestrel at 127.0.0.1:0,
/// with a replaceable in-memory configuration, in-memory logs (<see cref="FakeLogCollector"/>) and the test handlers registered.
/// </summary>
/// <remarks>
/// <see cref="StartAsync(TestConfig, Action{IServiceCollection}?)"/> builds and starts in one go. A test that reads metrics
/// calls <see cref="Create(TestConfig, Action{IServiceCollection}?)"/>, attaches its collectors with <see cref="CollectMetric{T}"/>,
/// then calls <see cref="StartAsync()"/>, so that no measurement of this host is missed and none of another host is counted.
/// </remarks>
public sealed class GatewayTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ReloadableConfigurationSource _configuration;

    private bool _started;

    private GatewayTestHost(WebApplication app, ReloadableConfigurationSource configuration)
    {
        _app = app;
        _configuration = configuration;
        Logs = app.Services.GetRequiredService<FakeLogCollector>();
    }

    /// <summary>Every log record of the host, from Debug up; readable after the host is disposed.</summary>
    public FakeLogCollector Logs { get; }

    /// <summary>A client for the host's HTTP endpoints; its base address is set by <see cref="StartAsync()"/>.</summary>
    public HttpClient Http { get; } = new();

    public IServiceProvider Services => _app.Services;

    public RecordingFrameHandler Recorder => Services.GetRequiredService<RecordingFrameHandler>();

    internal SocketSupervisor Supervisor => Services.GetRequiredService<SocketSupervisor>();

    internal SocketHealthTracker Tracker => Services.GetRequiredService<SocketHealthTracker>();

    public ISocketSender Sender => Services.GetRequiredService<ISocketSender>();

    public static Task<GatewayTestHost> StartAsync(TestConfig configuration, Action<IServiceCollection>? configureServices = null)
        => StartAsync(configuration.Build(), configureServices);

    internal Task<SocketOptionsDiff?> ReloadAsync(TestConfig configuration) => ReloadAsync(configuration.Build());

    /// <summary>Builds and starts a host; throws what startup throws (e.g. invalid configuration).</summary>
    public static async Task<GatewayTestHost> StartAsync(IDictionary<string, string?> configuration, Action<IServiceCollection>? configureServices = null)
    {
        var host = Create(configuration, configureServices);
        try
        {
            await host.StartAsync();
        }
        catch
        {
            await host._app.DisposeAsync();
            throw;
        }

        return host;
    }

    public static GatewayTestHost Create(TestConfig configuration, Action<IServiceCollection>? configureServices = null)
        => Create(configuration.Build(), configureServices);

    /// <summary>Builds a host without starting it.</summary>
    public static GatewayTestHost Create(IDictionary<string, string?> configuration, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        var source = new ReloadableConfigurationSource(TestTransport.Apply(configuration));
        ((IConfigurationBuilder)builder.Configuration).Add(source);
        builder.Logging.ClearProviders().AddFakeLogging().SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddGateway(builder.Configuration);
        builder.Services.AddFrameHandler<RecordingFrameHandler>(RecordingFrameHandler.Name);
        builder.Services.AddFrameHandler<ThrowingFrameHandler>(ThrowingFrameHandler.Name);
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseWebSockets();
        app.MapGateway();
        return new GatewayTestHost(app, source);
    }

    /// <summary>Starts a host made by <see cref="Create(TestConfig, Action{IServiceCollection}?)"/>.</summary>
    public async Task StartAsync()
    {
        await _app.StartAsync();
        _started = true;
        Http.BaseAddress = new Uri(_app.Urls.First());
    }

    /// <summary>
    /// Collects the measurements of the gateway instrument <paramref name="instrumentName"/> of this host only
    /// (the meter is the one this host's <see cref="IMeterFactory"/> creates).
    /// </summary>
    public MetricCollector<T> CollectMetric<T>(string instrumentName)
        where T : struct
        => new(Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, instrumentName);

    internal SocketStatusSnapshot Status(string socket)
        => Tracker.TryGet(socket, out var status) ? status.Snapshot() : throw new InvalidOperationException($"socket {socket} is not running");

    internal bool IsRunning(string socket) => Supervisor.TryGet(socket, out _);

    internal SocketConnection Connection(string socket)
        => Supervisor.TryGet(socket, out var connection) ? connection : throw new InvalidOperationException($"socket {socket} is not running");

    /// <summary>Replaces the configuration and waits until the supervisor processed the reload.</summary>
    internal async Task<SocketOptionsDiff?> ReloadAsync(IDictionary<string, string?> configuration)
    {
        var processed = new TaskCompletionSource<SocketOptionsDiff?>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnProcessed(SocketOptionsDiff? diff) => processed.TrySetResult(diff);
        Supervisor.ReloadProcessed += OnProcessed;
        try
        {
            _configuration.Replace(TestTransport.Apply(configuration));
            return await processed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            Supervisor.ReloadProcessed -= OnProcessed;
        }
    }

    public async Task StopAsync() => await _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (_started)
        {
            await _app.StopAsync();
        }

        await _app.DisposeAsync();
    }
}
