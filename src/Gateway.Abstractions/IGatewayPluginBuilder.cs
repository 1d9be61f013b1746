namespace Gateway;

/// <summary>What a plug-in registers with: the gateway's <see cref="IGatewayBuilder"/>, and where the plug-in was loaded from.</summary>
/// <remarks>Implemented by the gateway only: new members may come in a minor version of Gateway.Abstractions.</remarks>
public interface IGatewayPluginBuilder : IGatewayBuilder
{
    /// <summary>The plug-in's name: the name of its folder in the plug-in directory.</summary>
    string PluginName { get; }

    /// <summary>The plug-in's folder (absolute), e.g. to read a file shipped with it.</summary>
    string PluginDirectory { get; }
}
