using Gateway;
using Gateway.Host.Configuration;
using Gateway.Host.Handlers;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Sockets;
using Gateway.Host.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The single wiring entry point of the gateway.</summary>
internal static class GatewayServiceCollectionExtensions
{
    public static IServiceCollection AddGateway(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IConfigureOptions<GatewayOptions>>(new GatewayOptionsSetup(configuration));
        services.AddSingleton<IOptionsChangeTokenSource<GatewayOptions>>(
            new ConfigurationChangeTokenSource<GatewayOptions>(Options.Options.DefaultName, configuration.GetSection(GatewayOptions.SectionName)));
        services.AddOptions<FileHandlerOptions>().Bind(configuration.GetSection(FileHandlerOptions.SectionName));
        services.AddSingleton<GatewayOptionsValidator>();

        services.AddSingleton<WebSocketConnector>();
        services.AddSingleton<SocketHealthTracker>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton<GatewayTelemetry>();

        // Registration order is start order: metrics listen before the first socket connects.
        services.AddHostedService(sp => sp.GetRequiredService<GatewayTelemetry>());
        services.AddSingleton<SocketSupervisor>();
        services.AddHostedService(sp => sp.GetRequiredService<SocketSupervisor>());
        services.AddSingleton<ISocketSender, SocketSender>();

        services.AddFrameHandler<LoggingFrameHandler>(LoggingFrameHandler.Name);
        services.AddFrameHandler<FileFrameHandler>(FileFrameHandler.Name);
        services.AddOutboundEncoder<JsonOutboundEncoder>(JsonOutboundEncoder.Name);

        services.AddHealthChecks().AddCheck<SocketHealthCheck>(SocketHealthCheck.Name, tags: ["ready"]);

        // Give the supervisor its whole drain budget before the host gives up on it.
        services.AddOptions<HostOptions>().Configure<IOptionsMonitor<GatewayOptions>>((host, gateway) =>
        {
            var budget = gateway.CurrentValue.ShutdownTimeout + TimeSpan.FromSeconds(5);
            if (host.ShutdownTimeout < budget)
            {
                host.ShutdownTimeout = budget;
            }
        });
        return services;
    }
}
