using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Configuration;

/// <summary>
/// Binds <c>Gateway</c>: each socket starts from <c>Gateway:Defaults</c> and its own keys override them.
/// Never throws: binding runs inside <see cref="IOptionsMonitor{TOptions}"/>, where an exception would
/// silently stop change notifications (dotnet/runtime#44381). Problems go to <see cref="GatewayOptions.BindErrors"/>.
/// </summary>
internal sealed class GatewayOptionsSetup(IConfiguration configuration) : IConfigureOptions<GatewayOptions>
{
    private static readonly string[] s_topLevelKeys = ["Sockets", "Defaults", "Handlers", "ShutdownTimeout", "Api"];

    public void Configure(GatewayOptions options)
    {
        var section = configuration.GetSection(GatewayOptions.SectionName);
        foreach (var child in section.GetChildren())
        {
            if (!s_topLevelKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                options.BindErrors.Add($"{child.Path}: unknown key (known: {string.Join(", ", s_topLevelKeys)})");
            }
        }

        TryBind(section.GetSection(nameof(GatewayOptions.ShutdownTimeout)), options.BindErrors, s => options.ShutdownTimeout = s.Get<TimeSpan>());

        var defaults = section.GetSection("Defaults");
        foreach (var socketSection in section.GetSection("Sockets").GetChildren())
        {
            var socket = new SocketOptions();
            BindSocket(defaults, socket, options.BindErrors, replaceLists: false);
            BindSocket(socketSection, socket, options.BindErrors, replaceLists: true);
            options.Sockets[socketSection.Key] = socket;
        }

        // Defaults are reported once, not once per socket.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        options.BindErrors.RemoveAll(e => !seen.Add(e));
    }

    /// <summary>
    /// Binds one section over <paramref name="socket"/>. Keys that are unknown or hold an invalid enum
    /// value are reported and left out, so every other key still binds and gets validated too.
    /// </summary>
    private static void BindSocket(IConfigurationSection section, SocketOptions socket, List<string> errors, bool replaceLists)
    {
        if (!section.Exists())
        {
            return;
        }

        var invalid = new List<string>();
        CheckKeys(section, typeof(SocketOptions), errors, invalid);
        IConfiguration source = section;
        if (invalid.Count > 0)
        {
            var prefix = section.Path + ":";
            var kept = section.AsEnumerable()
                .Where(kv => kv.Value is not null && !invalid.Any(path => kv.Key.Equals(path, StringComparison.OrdinalIgnoreCase) || kv.Key.StartsWith(path + ":", StringComparison.OrdinalIgnoreCase)))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[prefix.Length..], kv.Value));
            source = new ConfigurationBuilder().AddInMemoryCollection(kept).Build();
        }

        if (replaceLists)
        {
            ClearListsSetBy(source, socket);
        }

        try
        {
            source.Bind(socket);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the full key path and the value.
            errors.Add($"{section.Path}: {ex.Message}");
        }
    }

    private static void TryBind(IConfigurationSection section, List<string> errors, Action<IConfigurationSection> bind)
    {
        if (!section.Exists())
        {
            return;
        }

        try
        {
            bind(section);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the full key path and the value.
            errors.Add($"{section.Path}: {ex.Message}");
        }
    }

    // The binder appends to lists that already hold values; a socket's own list replaces the default one.
    private static void ClearListsSetBy(IConfiguration socketSection, SocketOptions socket)
    {
        foreach (var property in typeof(SocketOptions).GetProperties())
        {
            if (property.PropertyType.IsGenericType
                && property.PropertyType.GetGenericTypeDefinition() == typeof(List<>)
                && socketSection.GetSection(property.Name).Exists())
            {
                ((IList)property.GetValue(socket)!).Clear();
            }
        }
    }

    /// <summary>Reports keys that match no property and enum values that match no member.</summary>
    /// <returns><see langword="false"/> if anything was reported.</returns>
    internal static bool CheckKeys(IConfigurationSection section, Type type, List<string> errors, List<string>? invalidPaths = null)
    {
        var valid = true;
        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || !property.CanWrite)
            {
                var known = type.GetProperties().Where(p => p.CanWrite).Select(p => p.Name);
                errors.Add($"{child.Path}: unknown key (known: {string.Join(", ", known)})");
                invalidPaths?.Add(child.Path);
                valid = false;
                continue;
            }

            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType.IsEnum)
            {
                if (child.Value is { } value && !Enum.GetNames(propertyType).Contains(value, StringComparer.OrdinalIgnoreCase))
                {
                    errors.Add($"{child.Path}: '{value}' is not one of {string.Join(", ", Enum.GetNames(propertyType))}");
                    invalidPaths?.Add(child.Path);
                    valid = false;
                }
            }
            else if (propertyType.IsClass && propertyType != typeof(string) && propertyType != typeof(Uri))
            {
                var elementType = propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(List<>)
                    ? propertyType.GetGenericArguments()[0]
                    : typeof(IEnumerable).IsAssignableFrom(propertyType) ? null : propertyType;
                if (elementType is not null && elementType != typeof(string))
                {
                    // Nested options (Reconnect, Queue) or a list of option objects (OnConnect).
                    var children = elementType == propertyType ? [child] : child.GetChildren();
                    foreach (var item in children)
                    {
                        valid &= CheckKeys(item, elementType, errors, invalidPaths);
                    }
                }
            }
        }

        return valid;
    }
}
