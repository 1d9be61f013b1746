using Microsoft.Extensions.DependencyInjection;

namespace Gateway;

/// <summary>Registers frame handlers, outbound encoders and connect hooks with the gateway, each under a unique name.</summary>
/// <remarks>
/// <para>Returned by the host's <c>services.AddGateway(configuration)</c>, and given to a plug-in as
/// <see cref="IGatewayPluginBuilder"/>. Implemented by the gateway only: new members may come in a
/// minor version of Gateway.Abstractions.</para>
/// <para>A name is registered once per kind: registering a name that the gateway, the application or
/// another plug-in registered already fails (the plug-in is then not loaded).</para>
/// </remarks>
public interface IGatewayBuilder
{
    /// <summary>The service collection, for the services the handlers themselves depend on.</summary>
    IServiceCollection Services { get; }

    /// <summary>Registers <typeparamref name="THandler"/> as the frame handler called <paramref name="name"/>.</summary>
    /// <remarks>Sockets use it by listing <paramref name="name"/> in their <c>Handlers</c> configuration. One singleton instance serves every socket.</remarks>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="name">The name sockets use in their <c>Handlers</c> list (case-sensitive).</param>
    /// <returns>This builder.</returns>
    IGatewayBuilder AddFrameHandler<THandler>(string name)
        where THandler : class, IFrameHandler;

    /// <summary>Registers <typeparamref name="TEncoder"/> as the outbound encoder called <paramref name="name"/>.</summary>
    /// <remarks>Sockets use it by setting <c>Outbound:Encoder</c> to <paramref name="name"/>. One singleton instance serves every socket.</remarks>
    /// <typeparam name="TEncoder">The encoder type.</typeparam>
    /// <param name="name">The name sockets use in <c>Outbound:Encoder</c> (case-sensitive).</param>
    /// <returns>This builder.</returns>
    IGatewayBuilder AddOutboundEncoder<TEncoder>(string name)
        where TEncoder : class, IOutboundEncoder;

    /// <summary>Registers <typeparamref name="THook"/> as the connect hook called <paramref name="name"/>.</summary>
    /// <remarks>Sockets use it by setting <c>ConnectHook</c> to <paramref name="name"/>. One singleton instance serves every socket.</remarks>
    /// <typeparam name="THook">The hook type.</typeparam>
    /// <param name="name">The name sockets use in <c>ConnectHook</c> (case-sensitive).</param>
    /// <returns>This builder.</returns>
    IGatewayBuilder AddConnectHook<THook>(string name)
        where THook : class, IConnectHook;
}
