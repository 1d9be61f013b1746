using System.Reflection;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Plugins;

/// <summary>
/// Loads the plug-in folders of <c>Gateway:Plugins:Directory</c> at startup, each into its own
/// <see cref="PluginLoadContext"/>, and lets each register its handlers, encoders and connect hooks.
/// Every problem is a startup error naming the plug-in's assembly and the reason.
/// </summary>
internal static class PluginLoader
{
    public const string DirectoryKey = "Gateway:Plugins:Directory";
    public const string DefaultDirectory = "plugins";

    private const string AbstractionsName = "Gateway.Abstractions";

    /// <summary>The plug-in directory, absolute: <c>Gateway:Plugins:Directory</c> (relative to the application's folder), by default <c>plugins/</c> beside the application.</summary>
    public static string ResolveDirectory(IConfiguration configuration, out bool configured)
    {
        var value = configuration[DirectoryKey];
        configured = !string.IsNullOrWhiteSpace(value);
        return Path.GetFullPath(string.IsNullOrWhiteSpace(value) ? DefaultDirectory : value, AppContext.BaseDirectory);
    }

    /// <summary>Loads every plug-in folder in name order; throws one <see cref="GatewayConfigurationException"/> listing every plug-in that failed.</summary>
    /// <param name="directory">The plug-in directory; when it does not exist there are no plug-ins, unless it was <paramref name="configured"/>.</param>
    public static List<LoadedPlugin> LoadAll(string directory, bool configured, GatewayBuilder gateway)
    {
        if (!Directory.Exists(directory))
        {
            return configured ? throw new GatewayConfigurationException([$"{DirectoryKey}: the plug-in directory '{directory}' does not exist"]) : [];
        }

        var plugins = new List<LoadedPlugin>();
        var errors = new List<string>();

        // Hidden folders are not plug-ins (a Kubernetes ConfigMap or Secret volume keeps its files in ..data).
        foreach (var folder in Directory.GetDirectories(directory).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal))
        {
            try
            {
                plugins.Add(Load(folder, gateway));
            }
            catch (GatewayConfigurationException ex)
            {
                errors.AddRange(ex.Errors);
            }
        }

        return errors.Count > 0 ? throw new GatewayConfigurationException(errors) : plugins;
    }

    private static LoadedPlugin Load(string folder, GatewayBuilder gateway)
    {
        var name = Path.GetFileName(folder);
        var assemblyPath = FindAssembly(folder, name);
        GatewayConfigurationException Fail(string reason) => new([$"Plug-in '{name}' ({assemblyPath}): {reason}"]);

        Assembly assembly;
        try
        {
            assembly = new PluginLoadContext(name, assemblyPath).LoadFromAssemblyPath(assemblyPath);
        }
        catch (Exception ex) when (ex is BadImageFormatException or IOException or ArgumentException)
        {
            throw Fail($"could not be loaded: {ex.Message}");
        }

        // Before any of its types is touched: a plug-in built against another major version would fail later, at random.
        var hostVersion = typeof(IGatewayPlugin).Assembly.GetName().Version ?? new Version(0, 0, 0);
        if (assembly.GetReferencedAssemblies().FirstOrDefault(r => r.Name == AbstractionsName)?.Version is not { } builtAgainst)
        {
            throw Fail($"does not reference {AbstractionsName}, so it has no IGatewayPlugin");
        }

        if (builtAgainst.Major != hostVersion.Major)
        {
            throw Fail($"built against {AbstractionsName} {builtAgainst.ToString(3)}, but this gateway has {hostVersion.ToString(3)}: the major versions must match (docs/plugins.md#versions)");
        }

        if (builtAgainst > hostVersion)
        {
            throw Fail($"built against {AbstractionsName} {builtAgainst.ToString(3)}, newer than this gateway's {hostVersion.ToString(3)}: use a gateway with {builtAgainst.ToString(2)} or later");
        }

        var plugin = CreateEntry(assembly, Fail);
        var owner = $"plug-in '{name}'";
        try
        {
            plugin.Configure(new GatewayPluginBuilder(new GatewayBuilder(gateway.Services, gateway.Names, owner), name, folder));
        }
        catch (Exception ex)
        {
            throw Fail($"{plugin.GetType().FullName}.Configure failed: {ex.Message}");
        }

        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString() ?? "0.0.0";
        return new LoadedPlugin(
            name,
            Path.GetFileName(assemblyPath),
            version,
            builtAgainst.ToString(3),
            gateway.Names.OwnedBy(owner, GatewayNames.FrameHandler),
            gateway.Names.OwnedBy(owner, GatewayNames.OutboundEncoder),
            gateway.Names.OwnedBy(owner, GatewayNames.ConnectHook));
    }

    /// <summary>The plug-in's assembly: <c>&lt;folder&gt;.dll</c>, else the one named by the folder's only <c>*.deps.json</c> (what <c>dotnet publish</c> writes).</summary>
    private static string FindAssembly(string folder, string name)
    {
        var byFolder = Path.Combine(folder, name + ".dll");
        if (File.Exists(byFolder))
        {
            return byFolder;
        }

        var deps = Directory.GetFiles(folder, "*.deps.json");
        var byDeps = deps.Length == 1 ? Path.Combine(folder, Path.GetFileName(deps[0])[..^".deps.json".Length] + ".dll") : null;
        return byDeps is not null && File.Exists(byDeps)
            ? byDeps
            : throw new GatewayConfigurationException([$"Plug-in '{name}' ({folder}): no plug-in assembly: expected {name}.dll, or one *.deps.json beside its assembly (the output of dotnet publish)"]);
    }

    /// <summary>The assembly's one public <see cref="IGatewayPlugin"/>, created.</summary>
    private static IGatewayPlugin CreateEntry(Assembly assembly, Func<string, GatewayConfigurationException> fail)
    {
        Type[] entries;
        try
        {
            entries = [.. assembly.GetExportedTypes().Where(t => t.IsClass && !t.IsAbstract && typeof(IGatewayPlugin).IsAssignableFrom(t))];
        }
        catch (Exception ex) when (ex is ReflectionTypeLoadException or TypeLoadException or IOException)
        {
            throw fail($"could not be loaded: {ex.Message}");
        }

        if (entries.Length != 1)
        {
            throw fail(entries.Length == 0
                ? "has no public class implementing IGatewayPlugin"
                : $"has {entries.Length} public classes implementing IGatewayPlugin ({string.Join(", ", entries.Select(t => t.FullName))}): keep one");
        }

        try
        {
            return Activator.CreateInstance(entries[0]) as IGatewayPlugin ?? throw fail($"{entries[0].FullName} could not be created");
        }
        catch (Exception ex) when (ex is MissingMethodException or TargetInvocationException or MemberAccessException)
        {
            throw fail($"{entries[0].FullName} could not be created: {(ex as TargetInvocationException)?.InnerException?.Message ?? ex.Message}");
        }
    }
}
