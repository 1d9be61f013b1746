using Gateway;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers frame handlers, outbound encoders and connect hooks.</summary>
public static class FrameHandlerServiceCollectionExtensions
{
    /// <summary>Registers <typeparamref name="THandler"/> as the frame handler called <paramref name="name"/>.</summary>
    /// <remarks>Sockets use it by listing <paramref name="name"/> in their <c>Handlers</c> configuration. One singleton instance serves every socket.</remarks>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The name sockets use in their <c>Handlers</c> list (case-sensitive).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddFrameHandler<THandler>(this IServiceCollection services, string name)
        where THandler : class, IFrameHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.TryAddSingleton<THandler>();
        services.AddKeyedSingleton<IFrameHandler>(name, static (sp, _) => sp.GetRequiredService<THandler>());
        return services;
    }

    /// <summary>Registers <typeparamref name="TEncoder"/> as the outbound encoder called <paramref name="name"/>.</summary>
    /// <remarks>Sockets use it by setting <c>Outbound:Encoder</c> to <paramref name="name"/>. One singleton instance serves every socket.</remarks>
    /// <typeparam name="TEncoder">The encoder type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The name sockets use in <c>Outbound:Encoder</c> (case-sensitive).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddOutboundEncoder<TEncoder>(this IServiceCollection services, string name)
        where TEncoder : class, IOutboundEncoder
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.TryAddSingleton<TEncoder>();
        services.AddKeyedSingleton<IOutboundEncoder>(name, static (sp, _) => sp.GetRequiredService<TEncoder>());
        return services;
    }

    /// <summary>Registers <typeparamref name="THook"/> as the connect hook called <paramref name="name"/>.</summary>
    /// <remarks>Sockets use it by setting <c>ConnectHook</c> to <paramref name="name"/>. One singleton instance serves every socket.</remarks>
    /// <typeparam name="THook">The hook type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The name sockets use in <c>ConnectHook</c> (case-sensitive).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddConnectHook<THook>(this IServiceCollection services, string name)
        where THook : class, IConnectHook
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.TryAddSingleton<THook>();
        services.AddKeyedSingleton<IConnectHook>(name, static (sp, _) => sp.GetRequiredService<THook>());
        return services;
    }
}
