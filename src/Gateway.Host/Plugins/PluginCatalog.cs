using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Plugins;

/// <summary>The plug-ins loaded at startup (<c>GET /plugins</c>); logs each one when the host starts.</summary>
internal sealed partial class PluginCatalog(string directory, IReadOnlyList<LoadedPlugin> plugins, ILogger<PluginCatalog> logger) : IHostedService
{
    public string Directory { get; } = directory;

    public IReadOnlyList<LoadedPlugin> Plugins { get; } = plugins;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var plugin in Plugins)
        {
            Log.Loaded(logger, plugin.Name, plugin.Version, plugin.Assembly, plugin.AbstractionsVersion, string.Join(", ", plugin.Handlers), string.Join(", ", plugin.Encoders), string.Join(", ", plugin.ConnectHooks));
        }

        Log.Summary(logger, Plugins.Count, Directory);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(900, LogLevel.Information, "Loaded plug-in {PluginName} {PluginVersion} ({Assembly}, built against Gateway.Abstractions {AbstractionsVersion}): frame handlers [{Handlers}], outbound encoders [{Encoders}], connect hooks [{ConnectHooks}].")]
        public static partial void Loaded(ILogger logger, string pluginName, string pluginVersion, string assembly, string abstractionsVersion, string handlers, string encoders, string connectHooks);

        [LoggerMessage(901, LogLevel.Information, "{PluginCount} plug-in(s) loaded from {PluginDirectory}.")]
        public static partial void Summary(ILogger logger, int pluginCount, string pluginDirectory);
    }
}
