using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Configuration;

/// <summary>
/// Binds <c>Gateway</c>: each socket starts from <c>Gateway:Defaults</c> and its own keys override
/// them (a list the socket sets replaces the default list; <c>Headers</c> merge).
/// </summary>
/// <remarks>
/// Binds key by key rather than through the configuration binder, for two reasons: every problem is
/// reported with its full key while all other keys still bind (the binder stops at the first bad
/// value), and it never throws. It runs inside <see cref="IOptionsMonitor{TOptions}"/>, where an
/// exception would silently stop change notifications (dotnet/runtime#44381); problems go to
/// <see cref="GatewayOptions.BindErrors"/> for the validator to report.
/// </remarks>
internal sealed class GatewayOptionsSetup(IConfiguration configuration) : IConfigureOptions<GatewayOptions>
{
    private static readonly string[] s_topLevelKeys = ["Sockets", "Defaults", "Handlers", "ShutdownTimeout", "Api", "StatusPage", "Plugins", "Cluster"];

    public void Configure(GatewayOptions options)
    {
        var section = configuration.GetSection(GatewayOptions.SectionName);
        var errors = options.BindErrors;
        foreach (var child in section.GetChildren())
        {
            if (!s_topLevelKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{child.Path}: unknown key (known: {string.Join(", ", s_topLevelKeys)})");
            }
        }

        var shutdownTimeout = section.GetSection(nameof(GatewayOptions.ShutdownTimeout));
        if ((shutdownTimeout.Value is not null || shutdownTimeout.GetChildren().Any()) && TryConvert(shutdownTimeout, typeof(TimeSpan), errors, out var timeout))
        {
            options.ShutdownTimeout = (TimeSpan)timeout!;
        }

        Bind(section.GetSection("Api"), options.Api, errors);
        Bind(section.GetSection("StatusPage"), options.StatusPage, errors);
        if (section.GetSection("Cluster") is var cluster && (cluster.Value is not null || cluster.GetChildren().Any()))
        {
            options.Cluster = new ClusterOptions();
            Bind(cluster, options.Cluster, errors);
        }

        var defaults = InMemory(section.GetSection("Defaults"));
        var socketsPath = ConfigurationPath.Combine(GatewayOptions.SectionName, nameof(GatewayOptions.Sockets));
        var template = new SocketOptions();
        Bind(defaults, template, errors);
        var shared = new Dictionary<object, object>(OptionsStructure.Instance);
        foreach (var socketSection in ConfigurationSnapshot.ChildrenOf(configuration, socketsPath) ?? section.GetSection("Sockets").GetChildren())
        {
            var socket = new SocketOptions();
            Bind(defaults, socket, errors);
            Bind(socketSection, socket, errors);
            Share(socket, socketSection, template, shared);
            options.Sockets[socketSection.Key] = socket;
        }

        // Problems in Defaults are reported once, not once per socket.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        errors.RemoveAll(e => !seen.Add(e));
    }

    /// <summary>
    /// Sockets with the same settings in a nested section or collection (most take all but a few keys from
    /// <c>Defaults</c>) share one instance of it: 10,000 sockets each held ~0.8 KiB of identical copies. What the
    /// socket's own keys leave alone is <paramref name="template"/>'s (Defaults alone); what they set is looked up
    /// by value. Bound options are never changed afterwards; a reload binds new ones.
    /// </summary>
    private static void Share(SocketOptions socket, IConfigurationSection own, SocketOptions template, Dictionary<object, object> shared)
    {
        var keys = own.GetChildren().Select(c => c.Key).ToList();
        foreach (var property in s_shareable)
        {
            if (!keys.Contains(property.Name, StringComparer.OrdinalIgnoreCase))
            {
                property.SetValue(socket, property.GetValue(template));
                continue;
            }

            var value = property.GetValue(socket)!;
            if (shared.TryGetValue(value, out var existing))
            {
                property.SetValue(socket, existing);
            }
            else
            {
                shared.Add(value, value);
            }
        }
    }

    private static readonly PropertyInfo[] s_shareable = [.. typeof(SocketOptions).GetProperties().Where(p => p.CanWrite && p.PropertyType.IsClass && p.PropertyType != typeof(string) && p.PropertyType != typeof(Uri))];

    /// <summary>
    /// A copy of <paramref name="section"/> (same paths) read once: <c>Defaults</c> is bound for every
    /// socket, and a configuration provider answers each <c>GetChildren</c> by scanning all its keys,
    /// so with 10,000 sockets reading it from the providers each time made startup quadratic.
    /// </summary>
    private static IConfigurationSection InMemory(IConfigurationSection section) => ConfigurationSnapshot.Copy(section);

    /// <summary>Applies the keys of <paramref name="section"/> to <paramref name="target"/>, reporting each bad key.</summary>
    private static void Bind(IConfigurationSection section, object target, List<string> errors)
    {
        var type = target.GetType();

        // A value where keys are expected ("Reconnect": 5, "Api": "key"): never silently ignored. The value
        // is not repeated, as it may be a secret.
        if (!string.IsNullOrEmpty(section.Value))
        {
            errors.Add($"{section.Path}: a single value where a section of keys is expected");
        }

        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || !property.CanWrite)
            {
                var known = type.GetProperties().Where(p => p.CanWrite).Select(p => p.Name);
                errors.Add($"{child.Path}: unknown key (known: {string.Join(", ", known)})");
                continue;
            }

            var current = property.GetValue(target);
            switch (current)
            {
                case IDictionary<string, string> dictionary:
                    if (!string.IsNullOrEmpty(child.Value))
                    {
                        errors.Add($"{child.Path}: a single value where a section of names and values is expected");
                    }

                    foreach (var item in child.GetChildren())
                    {
                        if (IsSectionNotValue(item, errors))
                        {
                            continue;
                        }

                        dictionary[item.Key] = item.Value ?? string.Empty;
                    }

                    break;
                case IList list:
                    // A list the section sets replaces what an earlier layer (Defaults) put there.
                    list.Clear();
                    if (!string.IsNullOrEmpty(child.Value))
                    {
                        errors.Add($"{child.Path}: a single value where a list is expected");
                    }

                    var elementType = property.PropertyType.GetGenericArguments()[0];
                    foreach (var item in child.GetChildren())
                    {
                        if (elementType == typeof(string))
                        {
                            if (!IsSectionNotValue(item, errors))
                            {
                                list.Add(item.Value ?? string.Empty);
                            }
                        }
                        else if (!IsNestedOptions(elementType))
                        {
                            // A list of values (RejoinAfter: durations), each converted like a single key.
                            if (TryConvert(item, elementType, errors, out var element) && element is not null)
                            {
                                list.Add(element);
                            }
                        }
                        else
                        {
                            var element = Activator.CreateInstance(elementType)!;
                            Bind(item, element, errors);
                            list.Add(element);
                        }
                    }

                    break;
                default:
                    if (IsNestedOptions(property.PropertyType) && current is not null)
                    {
                        Bind(child, current, errors);
                    }
                    else if (TryConvert(child, property.PropertyType, errors, out var value))
                    {
                        property.SetValue(target, value);
                    }

                    break;
            }
        }
    }

    /// <summary>A section of keys where a single value is expected ("Url": { "Host": "x" }): reported.</summary>
    private static bool IsSectionNotValue(IConfigurationSection section, List<string> errors)
    {
        if (section.Value is null && section.GetChildren().Any())
        {
            errors.Add($"{section.Path}: a section of keys where a single value is expected");
            return true;
        }

        return false;
    }

    private static bool IsNestedOptions(Type type)
        => type.IsClass && type != typeof(string) && type != typeof(Uri) && !typeof(IEnumerable).IsAssignableFrom(type);

    private static bool TryConvert(IConfigurationSection section, Type type, List<string> errors, out object? value)
    {
        var text = section.Value;
        var underlying = Nullable.GetUnderlyingType(type);
        if (IsSectionNotValue(section, errors))
        {
            value = null;
            return false;
        }

        if (text is null)
        {
            // A key set to null (e.g. "Key": null) means unset: clear what can be cleared, keep defaults otherwise.
            value = null;
            return !type.IsValueType || underlying is not null;
        }

        if (underlying is not null && text.Length == 0)
        {
            value = null;
            return true;
        }

        var target = underlying ?? type;
        value = null;
        try
        {
            if (target.IsEnum)
            {
                // Kebab case too, as protocols spell them ("client-individual").
                var name = text.Replace("-", string.Empty, StringComparison.Ordinal);
                if (name.Length > 0 && !char.IsAsciiDigit(name[0]) && Enum.TryParse(target, name, ignoreCase: true, out var parsed) && Enum.IsDefined(target, parsed))
                {
                    value = parsed;
                    return true;
                }
            }
            else if (target == typeof(Uri) && text.StartsWith('/'))
            {
                // A path on this gateway's own HTTP endpoint (the demo feed). On Unix "/x" would otherwise parse as a file URL.
                value = new Uri(text, UriKind.Relative);
                return true;
            }
            else if (target == typeof(string) || (target == typeof(Uri) && text.Length > 0))
            {
                // What their TypeConverters do, without TypeDescriptor's lookups (every socket has a Url).
                value = target == typeof(string) ? text : new Uri(text, UriKind.RelativeOrAbsolute);
                return true;
            }
            else
            {
                value = TypeDescriptor.GetConverter(target).ConvertFromInvariantString(text);
                if (value is not null)
                {
                    return true;
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException or NotSupportedException or UriFormatException)
        {
        }

        errors.Add($"{section.Path}: '{text}' is not {Describe(target)}");
        return false;
    }

    private static string Describe(Type type) => type switch
    {
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type)),
        _ when type == typeof(TimeSpan) => "a duration (hh:mm:ss[.fff])",
        _ when type == typeof(int) => "a whole number from -2147483648 to 2147483647",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(Uri) => "a URL",
        _ => "a valid " + type.Name.ToLower(CultureInfo.InvariantCulture),
    };
}
