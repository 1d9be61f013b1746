using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace Gateway.Host.Configuration;

/// <summary>
/// The children of one section, each as a small in-memory copy of its keys, read from the providers'
/// data in a single pass. A configuration provider answers every <c>GetChildren</c> by scanning all its
/// keys, so binding 10,000 sockets through the providers was quadratic: 10,000 sockets took ~10 s of CPU
/// (a profile of the idle benchmark: 43 % of the process's CPU while they connected).
/// </summary>
internal static class ConfigurationSnapshot
{
    // The keys of a ConfigurationProvider (JSON, environment, command line, in-memory, ...). Protected, so
    // part of the type's contract with every provider deriving from it.
    private static readonly PropertyInfo? s_data = typeof(ConfigurationProvider).GetProperty("Data", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>
    /// The children of <paramref name="path"/> in <see cref="ConfigurationKeyComparer"/> order, as
    /// <c>GetSection(path).GetChildren()</c> gives them (same keys, paths and values; a later provider wins),
    /// or <see langword="null"/> when a provider's keys cannot be read directly (the caller then asks the
    /// providers).
    /// </summary>
    public static IReadOnlyList<IConfigurationSection>? ChildrenOf(IConfiguration configuration, string path)
    {
        if (configuration is not IConfigurationRoot root || s_data is null)
        {
            return null;
        }

        var prefix = path + ConfigurationPath.KeyDelimiter;
        var children = new Dictionary<string, Dictionary<string, string?>>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in root.Providers)
        {
            if (provider is not ConfigurationProvider || s_data.GetValue(provider) is not IDictionary<string, string?> data)
            {
                return null;
            }

            foreach (var (key, value) in data)
            {
                if (key.Length <= prefix.Length || !key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var end = key.IndexOf(ConfigurationPath.KeyDelimiter, prefix.Length, StringComparison.Ordinal);
                var name = end < 0 ? key[prefix.Length..] : key[prefix.Length..end];
                if (!children.TryGetValue(name, out var keys))
                {
                    children[name] = keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
                }

                keys[key] = value;
            }
        }

        return [.. children
            .OrderBy(c => c.Key, ConfigurationKeyComparer.Instance)
            .Select(c => new ConfigurationRoot([new MemoryConfigurationProvider(new MemoryConfigurationSource { InitialData = c.Value })]).GetSection(prefix + c.Key))];
    }
}
