using Gateway;

namespace DigestPlugin;

/// <summary>The plug-in's entry point: registers the <c>digest</c> frame handler.</summary>
public sealed class Plugin : IGatewayPlugin
{
    /// <inheritdoc/>
    public void Configure(IGatewayPluginBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddFrameHandler<DigestHandler>(DigestHandler.Name);
    }
}
