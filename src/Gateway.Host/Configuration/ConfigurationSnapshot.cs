using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

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
            .Select(c => Section.Over(prefix + c.Key, c.Value))];
    }

    /// <summary>A read-only copy of <paramref name="section"/> (same paths), read from the providers once.</summary>
    public static IConfigurationSection Copy(IConfigurationSection section)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in section.AsEnumerable())
        {
            keys[key] = value;
        }

        return Section.Over(section.Path, keys);
    }

    /// <summary>
    /// A read-only section over its own sorted keys: a <see cref="ConfigurationRoot"/> with a memory provider
    /// per socket cost ~25 us each to build and read (change tokens, a provider, a sort per <c>GetChildren</c>).
    /// </summary>
    private sealed class Section : IConfigurationSection
    {
        private static readonly IChangeToken s_never = new CancellationChangeToken(CancellationToken.None);

        // Every key below this section (longer than its path), sorted so that each child's keys are contiguous.
        private readonly KeyValuePair<string, string?>[] _entries;
        private readonly int _start;
        private readonly int _end;
        private readonly string? _value;

        private Section(string path, string? value, KeyValuePair<string, string?>[] entries, int start, int end)
        {
            Path = path;
            Key = ConfigurationPath.GetSectionKey(path);
            _value = value;
            _entries = entries;
            _start = start;
            _end = end;
        }

        public static Section Over(string path, Dictionary<string, string?> keys)
        {
            var entries = keys.ToArray();
            Array.Sort(entries, static (a, b) => ConfigurationKeyComparer.Instance.Compare(a.Key, b.Key));
            return At(path, entries, 0, entries.Length);
        }

        public string Key { get; }

        public string Path { get; }

        public string? Value
        {
            get => _value;
            set => throw new NotSupportedException("a configuration snapshot is read-only");
        }

        public string? this[string key]
        {
            get => GetSection(key).Value;
            set => throw new NotSupportedException("a configuration snapshot is read-only");
        }

        public IConfigurationSection GetSection(string key) => At(Path + ConfigurationPath.KeyDelimiter + key, _entries, _start, _end);

        public IEnumerable<IConfigurationSection> GetChildren()
        {
            var children = new List<IConfigurationSection>();
            var i = _start;
            while (i < _end)
            {
                var key = _entries[i].Key;
                var end = key.IndexOf(ConfigurationPath.KeyDelimiter, Path.Length + 1, StringComparison.Ordinal);
                var child = At(end < 0 ? key : key[..end], _entries, i, _end);
                children.Add(child);
                i = child._end;
            }

            return children;
        }

        public IChangeToken GetReloadToken() => s_never;

        /// <summary>The section at <paramref name="path"/>: its value and the contiguous run of its keys within [start, end).</summary>
        private static Section At(string path, KeyValuePair<string, string?>[] entries, int start, int end)
        {
            string? value = null;
            var first = end;
            var last = end;
            var found = false;
            for (var i = start; i < end; i++)
            {
                var key = entries[i].Key;
                if (key.Length == path.Length && key.Equals(path, StringComparison.OrdinalIgnoreCase))
                {
                    // Its own key sorts right before its children: the run of children (maybe empty) starts after it.
                    value = entries[i].Value;
                    first = last = i + 1;
                    found = true;
                }
                else if (key.Length > path.Length && key[path.Length] == ':' && key.StartsWith(path, StringComparison.OrdinalIgnoreCase))
                {
                    first = found ? first : i;
                    last = i + 1;
                    found = true;
                }
                else if (found)
                {
                    break; // past the run
                }
            }

            return new Section(path, value, entries, first, last);
        }
    }
}
