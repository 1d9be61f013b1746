using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Plugins;

/// <summary>What a plug-in's <see cref="IGatewayPlugin.Configure"/> registers with: the gateway's builder, owned by the plug-in.</summary>
internal sealed class GatewayPluginBuilder(GatewayBuilder inner, string pluginName, string pluginDirectory) : IGatewayPluginBuilder
{
    public string PluginName { get; } = pluginName;

    public string PluginDirectory { get; } = pluginDirectory;

    public IServiceCollection Services => inner.Services;

    public IGatewayBuilder AddFrameHandler<THandler>(string name)
        where THandler : class, IFrameHandler
    {
        inner.AddFrameHandler<THandler>(name);
        return this;
    }

    public IGatewayBuilder AddOutboundEncoder<TEncoder>(string name)
        where TEncoder : class, IOutboundEncoder
    {
        inner.AddOutboundEncoder<TEncoder>(name);
        return this;
    }

    public IGatewayBuilder AddConnectHook<THook>(string name)
        where THook : class, IConnectHook
    {
        inner.AddConnectHook<THook>(name);
        return this;
    }
}
