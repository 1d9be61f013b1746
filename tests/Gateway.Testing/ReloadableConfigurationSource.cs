using Microsoft.Extensions.Configuration;

namespace Gateway.Testing;

/// <summary>An in-memory configuration source whose whole content can be replaced, raising a reload like a file change.</summary>
public sealed class ReloadableConfigurationSource : IConfigurationSource
{
    private readonly Provider _provider = new();

    public ReloadableConfigurationSource(IDictionary<string, string?> initial) => _provider.Set(initial, raise: false);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    /// <summary>Replaces every key and raises the reload token.</summary>
    public void Replace(IDictionary<string, string?> data) => _provider.Set(data, raise: true);

    private sealed class Provider : ConfigurationProvider
    {
        public void Set(IDictionary<string, string?> data, bool raise)
        {
            Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            if (raise)
            {
                OnReload();
            }
        }
    }
}
