using System.Reflection;
using System.Runtime.Loader;

namespace Gateway.Host.Plugins;

/// <summary>
/// One plug-in's assemblies: its own dependencies from its folder (through its <c>.deps.json</c>),
/// and the host's copy of what plug-ins and host must share for their types to be the same types:
/// Gateway.Abstractions and the <c>Microsoft.Extensions.*</c> assemblies the host has (DI, options,
/// logging, configuration). The framework itself always comes from the host.
/// </summary>
internal sealed class PluginLoadContext(string name, string mainAssemblyPath) : AssemblyLoadContext(name)
{
    private static readonly HashSet<string> s_hostAssemblies = HostAssemblyNames();

    private readonly AssemblyDependencyResolver _resolver = new(mainAssemblyPath);

    /// <summary>Whether the plug-in gets the host's copy of the assembly rather than one from its folder.</summary>
    public static bool IsShared(AssemblyName assemblyName)
        => assemblyName.Name is { } simpleName
            && (simpleName == "Gateway.Abstractions" || (simpleName.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) && s_hostAssemblies.Contains(simpleName)));

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName))
        {
            return null; // the default context: the host's copy
        }

        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    /// <summary>The simple names of every assembly the host can load: the trusted platform assemblies (its own output and the shared frameworks).</summary>
    private static HashSet<string> HostAssemblyNames()
    {
        var paths = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty;
        return [.. paths.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Select(Path.GetFileNameWithoutExtension).OfType<string>()];
    }
}
