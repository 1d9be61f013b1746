using Gateway;
using Gateway.Host.Cluster;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Cluster mode (<c>Gateway:Cluster</c>): leases, forwarded sends, the cluster-wide listing and health.</summary>
internal static class ClusterServiceCollectionExtensions
{
    /// <summary>Whether <c>Gateway:Cluster</c> is configured (read once, at start).</summary>
    public static bool IsClusterConfigured(IConfiguration configuration)
    {
        var section = configuration.GetSection(GatewayOptions.SectionName).GetSection("Cluster");
        return section.Value is not null || section.GetChildren().Any();
    }

    /// <summary>Registers the cluster services; call after the supervisor, so that they start after it and stop before it.</summary>
    public static void AddGatewayCluster(this IServiceCollection services)
    {
        services.AddSingleton(static sp => sp.GetRequiredService<IOptionsMonitor<GatewayOptions>>().CurrentValue.Cluster ?? new ClusterOptions());
        services.AddSingleton<ClusterConnection>();
        services.AddSingleton<IClusterStore, RedisClusterStore>();
        services.AddSingleton<IClusterSockets, SupervisorClusterSockets>();
        services.AddSingleton(static sp =>
        {
            var monitor = sp.GetRequiredService<IOptionsMonitor<GatewayOptions>>();
            return new ClusterCoordinator(
                sp.GetRequiredService<IClusterStore>(), sp.GetRequiredService<IClusterSockets>(), sp.GetRequiredService<ClusterOptions>(),
                () => sp.GetRequiredService<SocketSupervisor>().Current.ShutdownTimeout, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ClusterCoordinator>>());
        });
        // Hosted services stop in reverse order: the coordinator hands its sockets over while forwarded sends are still served.
        services.AddSingleton<ClusterSocketSender>();
        services.AddSingleton<ISocketSender>(static sp => sp.GetRequiredService<ClusterSocketSender>());
        services.AddHostedService(static sp => sp.GetRequiredService<ClusterSocketSender>());
        services.AddSingleton<ClusterMetrics>();
        services.AddHostedService(static sp =>
        {
            _ = sp.GetRequiredService<ClusterMetrics>();
            return sp.GetRequiredService<ClusterCoordinator>();
        });
        services.AddSingleton<ClusterSocketListing>();
        services.AddSingleton<ISocketListing>(static sp => sp.GetRequiredService<ClusterSocketListing>());
        services.AddHostedService(static sp => sp.GetRequiredService<ClusterSocketListing>());
        services.AddHealthChecks().AddCheck<ClusterHealthCheck>(ClusterHealthCheck.Name, tags: ["ready"]);
    }
}
