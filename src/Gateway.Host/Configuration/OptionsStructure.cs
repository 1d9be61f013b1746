using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;

namespace Gateway.Host.Configuration;

/// <summary>
/// Value equality of options objects, key by key through every settable property, nested options and
/// collections included, so every present and future key takes part without a hand-written Equals to
/// keep in step. Strings compare ordinally, URLs by their text (credentials included), lists in order,
/// dictionaries as sets (with the dictionary's own key comparer).
/// </summary>
internal sealed class OptionsStructure : IEqualityComparer<object>
{
    public static readonly OptionsStructure Instance = new();

    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> s_properties = new();

    private OptionsStructure()
    {
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> hold the same settings, ignoring the named top-level properties.</summary>
    public static bool EqualExcept(object a, object b, params ReadOnlySpan<string> ignored)
    {
        if (a.GetType() != b.GetType())
        {
            return false;
        }

        foreach (var property in PropertiesOf(a.GetType()))
        {
            if (!ignored.Contains(property.Name) && !Equal(property.GetValue(a), property.GetValue(b)))
            {
                return false;
            }
        }

        return true;
    }

    public static bool Equal(object? a, object? b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null || a.GetType() != b.GetType())
        {
            return false;
        }

        switch (a)
        {
            case string text:
                return string.Equals(text, (string)b, StringComparison.Ordinal);
            case Uri url:
                return string.Equals(url.OriginalString, ((Uri)b).OriginalString, StringComparison.Ordinal);
            case ValueType:
                return a.Equals(b);
            case IDictionary<string, string> dictionary:
                var other = (IDictionary<string, string>)b;
                if (dictionary.Count != other.Count)
                {
                    return false;
                }

                foreach (var (key, value) in dictionary)
                {
                    if (!other.TryGetValue(key, out var otherValue) || !string.Equals(value, otherValue, StringComparison.Ordinal))
                    {
                        return false;
                    }
                }

                return true;
            case IList list:
                var otherList = (IList)b;
                if (list.Count != otherList.Count)
                {
                    return false;
                }

                for (var i = 0; i < list.Count; i++)
                {
                    if (!Equal(list[i], otherList[i]))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return EqualExcept(a, b);
        }
    }

    public static int Hash(object? value)
    {
        switch (value)
        {
            case null:
                return 0;
            case string text:
                return StringComparer.Ordinal.GetHashCode(text);
            case Uri url:
                return StringComparer.Ordinal.GetHashCode(url.OriginalString);
            case ValueType:
                return value.GetHashCode();
            case IDictionary<string, string> dictionary:
                // Order-free, and equal for keys a case-insensitive dictionary holds as one.
                var sum = dictionary.Count;
                foreach (var (key, item) in dictionary)
                {
                    sum += HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(key), StringComparer.Ordinal.GetHashCode(item));
                }

                return sum;
            case IList list:
                var hash = new HashCode();
                foreach (var element in list)
                {
                    hash.Add(Hash(element));
                }

                return hash.ToHashCode();
            default:
                var combined = new HashCode();
                foreach (var property in PropertiesOf(value.GetType()))
                {
                    combined.Add(Hash(property.GetValue(value)));
                }

                return combined.ToHashCode();
        }
    }

    bool IEqualityComparer<object>.Equals(object? x, object? y) => Equal(x, y);

    int IEqualityComparer<object>.GetHashCode(object obj) => Hash(obj);

    private static PropertyInfo[] PropertiesOf(Type type)
        => s_properties.GetOrAdd(type, static t => [.. t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0)]);
}
