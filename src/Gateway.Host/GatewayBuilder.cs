using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host;

/// <summary>
/// Registers handlers, encoders and connect hooks for one owner (the gateway, the application or a
/// plug-in), claiming each name in <see cref="GatewayNames"/> first so that a name is never registered twice.
/// </summary>
internal sealed class GatewayBuilder(IServiceCollection services, GatewayNames names, string owner) : IGatewayBuilder
{
    public IServiceCollection Services { get; } = services;

    public GatewayNames Names { get; } = names;

    public string Owner { get; } = owner;

    public IGatewayBuilder AddFrameHandler<THandler>(string name)
        where THandler : class, IFrameHandler
    {
        Names.Claim(GatewayNames.FrameHandler, name, Owner);
        Services.AddFrameHandler<THandler>(name);
        return this;
    }

    public IGatewayBuilder AddOutboundEncoder<TEncoder>(string name)
        where TEncoder : class, IOutboundEncoder
    {
        Names.Claim(GatewayNames.OutboundEncoder, name, Owner);
        Services.AddOutboundEncoder<TEncoder>(name);
        return this;
    }

    public IGatewayBuilder AddConnectHook<THook>(string name)
        where THook : class, IConnectHook
    {
        Names.Claim(GatewayNames.ConnectHook, name, Owner);
        Services.AddConnectHook<THook>(name);
        return this;
    }
}
