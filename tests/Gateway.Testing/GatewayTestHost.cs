using System.Net;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Testing;

/// <summary>
/// The gateway's real wiring (<c>AddGateway</c>, <c>MapGatewayEndpoints</c>) on Kestrel at 127.0.0.1:0,
/// with a replaceable in-memory configuration, in-memory logs and the test handlers registered.
/// </summary>
public sealed class GatewayTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ReloadableConfigurationSource _configuration;

    private GatewayTestHost(WebApplication app, ReloadableConfigurationSource configuration, TestLoggerProvider logs)
    {
        _app = app;
        _configuration = configuration;
        Logs = logs;
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
    }

    public TestLoggerProvider Logs { get; }

    public HttpClient Http { get; }

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
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        var source = new ReloadableConfigurationSource(configuration);
        ((IConfigurationBuilder)builder.Configuration).Add(source);
        var logs = new TestLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddGateway(builder.Configuration);
        builder.Services.AddFrameHandler<RecordingFrameHandler>(RecordingFrameHandler.Name);
        builder.Services.AddFrameHandler<ThrowingFrameHandler>(ThrowingFrameHandler.Name);
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseWebSockets();
        app.MapGatewayEndpoints();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new GatewayTestHost(app, source, logs);
    }

    internal SocketStatusSnapshot Status(string socket)
        => Tracker.TryGet(socket, out var status) ? status.Snapshot() : throw new InvalidOperationException($"socket {socket} is not running");

    internal bool IsRunning(string socket) => Tracker.TryGet(socket, out _);

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
            _configuration.Replace(configuration);
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
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
