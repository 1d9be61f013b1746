namespace Gateway;

/// <summary>The entry point of a plug-in: registers its frame handlers, outbound encoders and connect hooks.</summary>
/// <remarks>
/// <para>A plug-in is a folder in the gateway's plug-in directory (<c>Gateway:Plugins:Directory</c>)
/// holding the plug-in's assembly and its dependencies (<c>dotnet publish</c> output). Its assembly has
/// exactly one public, non-abstract type implementing this interface, with a public parameterless
/// constructor.</para>
/// <para>The gateway creates it once at startup, before its services are built, and calls
/// <see cref="Configure"/> once. The plug-in shares Gateway.Abstractions and the
/// <c>Microsoft.Extensions.*</c> assemblies with the gateway; every other dependency loads from the
/// plug-in's own folder, so two plug-ins may use different versions of one library.</para>
/// </remarks>
public interface IGatewayPlugin
{
    /// <summary>Registers the plug-in's handlers, encoders, connect hooks and the services they need.</summary>
    /// <param name="builder">The registrations, each under a name unique across the gateway and every plug-in.</param>
    void Configure(IGatewayPluginBuilder builder);
}
