using Gateway;
using Gateway.Host;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Plugins;
using Gateway.Host.Protocols;
using Gateway.Host.Protocols.Raw;
using Gateway.Host.Sockets;
using Gateway.Host.Transport;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the gateway to an application's services: the single wiring entry point, used by the gateway's own <c>Program</c> too.</summary>
public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds the gateway's services, configured from the <c>Gateway</c> section of <paramref name="configuration"/>,
    /// its built-in handlers, and the plug-ins of <c>Gateway:Plugins:Directory</c>.
    /// </summary>
    /// <remarks>
    /// Map its endpoints with <c>app.MapGateway()</c> (after <c>app.UseWebSockets()</c>, for the demo feed).
    /// Invalid plug-ins fail here, with one message naming each plug-in's assembly and the reason.
    /// </remarks>
    /// <param name="services">The application's services.</param>
    /// <param name="configuration">The application's configuration: the <c>Gateway</c> section and, for OTLP export, <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</param>
    /// <returns>A builder to register the application's own frame handlers, outbound encoders and connect hooks by name.</returns>
    public static IGatewayBuilder AddGateway(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        var cluster = ClusterServiceCollectionExtensions.IsClusterConfigured(configuration);
        services.AddOptions();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IConfigureOptions<GatewayOptions>>(new GatewayOptionsSetup(configuration));
        services.AddSingleton<IOptionsChangeTokenSource<GatewayOptions>>(
            new ConfigurationChangeTokenSource<GatewayOptions>(Options.Options.DefaultName, configuration.GetSection(GatewayOptions.SectionName)));
        services.AddOptions<FileHandlerOptions>().Bind(configuration.GetSection(FileHandlerOptions.SectionName));
        services.AddOptionsWithValidateOnStart<RedisStreamSinkOptions, RedisStreamSinkOptionsValidator>().Bind(configuration.GetSection(RedisStreamSinkOptions.SectionName));
        services.AddOptions<RabbitMqSinkOptions>().Bind(configuration.GetSection(RabbitMqSinkOptions.SectionName));
        services.AddSingleton<GatewayOptionsValidator>();

        services.AddSingleton<WebSocketConnector>();

        // One protocol per SocketProtocol value: the place STOMP and Phoenix plug in.
        services.AddKeyedSingleton<IProtocol, RawProtocol>(SocketProtocol.Raw);
        services.AddKeyedSingleton<IProtocol, Gateway.Host.Protocols.Stomp.StompProtocol>(SocketProtocol.Stomp);
        services.AddKeyedSingleton<IProtocol, Gateway.Host.Protocols.Phoenix.PhoenixProtocol>(SocketProtocol.Phoenix);
        services.AddSingleton<SocketHealthTracker>();
        services.AddSingleton<Gateway.Host.StatusPage.StatusEventStream>();
        services.AddSingleton<GatewayMetrics>();

        // Built-in names first: a plug-in cannot take them.
        var names = new GatewayNames();
        new GatewayBuilder(services, names, "the gateway")
            .AddFrameHandler<LoggingFrameHandler>(LoggingFrameHandler.Name)
            .AddFrameHandler<FileFrameHandler>(FileFrameHandler.Name)
            .AddFrameHandler<RedisStreamSink>(RedisStreamSink.HandlerName)
            .AddFrameHandler<RabbitMqSink>(RabbitMqSink.Name)
            .AddOutboundEncoder<JsonOutboundEncoder>(JsonOutboundEncoder.Name);
        services.AddSingleton<ISinkHealth>(static sp => sp.GetRequiredService<RedisStreamSink>());
        services.AddSingleton<ISinkHealth>(sp => sp.GetRequiredService<RabbitMqSink>());
        services.AddSinkInstances(configuration, names);

        // Registration order is start order: metrics listen before the first socket connects, and plug-ins are logged before either.
        var application = new GatewayBuilder(services, names, "the application");
        var pluginDirectory = PluginLoader.ResolveDirectory(configuration, out var configured);
        var plugins = PluginLoader.LoadAll(pluginDirectory, configured, application);
        services.AddSingleton(sp => new PluginCatalog(pluginDirectory, plugins, sp.GetRequiredService<ILogger<PluginCatalog>>()));
        services.AddHostedService(sp => sp.GetRequiredService<PluginCatalog>());
        services.AddGatewayTelemetry(configuration, cluster ? configuration[$"{GatewayOptions.SectionName}:Cluster:ReplicaId"] ?? Environment.MachineName : null);
        services.AddSingleton<SocketSupervisor>();
        services.AddSingleton<ISocketDirectory>(sp => sp.GetRequiredService<SocketSupervisor>());
        services.AddHostedService(sp => sp.GetRequiredService<SocketSupervisor>());
        services.AddSingleton<SocketSender>();
        if (cluster)
        {
            services.AddGatewayCluster();
        }
        else
        {
            services.AddSingleton<ISocketSender>(static sp => sp.GetRequiredService<SocketSender>());
            services.AddSingleton<ISocketListing, TrackerSocketListing>();
        }

        services.AddHealthChecks().AddCheck<SocketHealthCheck>(SocketHealthCheck.Name, tags: ["ready"]).AddCheck<SinkHealthCheck>(SinkHealthCheck.Name, tags: ["ready"]);

        // Give the supervisor its whole drain budget before the host gives up on it.
        services.AddOptions<HostOptions>().Configure<IOptionsMonitor<GatewayOptions>>((host, gateway) =>
        {
            var budget = gateway.CurrentValue.ShutdownTimeout + TimeSpan.FromSeconds(5);
            if (host.ShutdownTimeout < budget)
            {
                host.ShutdownTimeout = budget;
            }
        });
        return application;
    }

    /// <summary>Health probes and metric scrapes: frequent, uninteresting requests that are neither traced nor logged at Information.</summary>
    internal static bool IsScrapeOrProbe(PathString path)
        => path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// OpenTelemetry: the gateway's meter with ASP.NET Core's, the HTTP client's and the runtime's,
    /// read by the Prometheus exporter (<c>/metrics</c>); with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set,
    /// metrics and traces (a span per connection attempt, HTTP server and client spans) also go over
    /// OTLP, configured by the standard <c>OTEL_*</c> variables.
    /// </summary>
    private static void AddGatewayTelemetry(this IServiceCollection services, IConfiguration configuration, string? replicaId)
    {
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService(GatewayTelemetry.ServiceName, serviceVersion: typeof(GatewayTelemetry).Assembly.GetName().Version?.ToString(), serviceInstanceId: replicaId, autoGenerateServiceInstanceId: replicaId is null)
                .AddEnvironmentVariableDetector()) // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GatewayMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            });
        if (otlp)
        {
            // Without an exporter nobody listens, and starting a span costs nothing.
            telemetry.WithTracing(tracing => tracing
                .AddSource(GatewayTelemetry.ActivitySourceName)
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = static context => !IsScrapeOrProbe(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddOtlpExporter());
        }
    }
}
