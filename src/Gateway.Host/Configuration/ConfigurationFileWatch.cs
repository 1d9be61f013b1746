using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Gateway.Host.Configuration;

/// <summary>
/// Watches the configuration files for an edit that cannot be read (a missing brace, two keys that
/// differ only in case). The file's provider then drops everything it had read and raises no reload,
/// so the running configuration stays; but a reload raised meanwhile by any other source would
/// apply the configuration without that file. <see cref="Broken"/> says to hold reloads back until
/// the file reads again.
/// </summary>
internal sealed class ConfigurationFileWatch : IDisposable
{
    private readonly ConcurrentDictionary<FileConfigurationProvider, string> _broken = new();
    private readonly List<IDisposable> _registrations = [];

    /// <param name="configuration">The host's configuration; only its file sources are watched.</param>
    /// <param name="onBroken">Called with a one-line description when a file could not be read.</param>
    /// <param name="onRepaired">Called with the file's path when a file that could not be read reads again.</param>
    public ConfigurationFileWatch(IConfiguration configuration, Action<string> onBroken, Action<string> onRepaired)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return;
        }

        foreach (var provider in root.Providers.OfType<FileConfigurationProvider>())
        {
            // Read at the time of each failed reload: setting it now covers every later edit.
            provider.Source.OnLoadException = context =>
            {
                var problem = GatewayConfigurationException.DescribeFileError(context.Exception);
                _broken[provider] = problem;
                onBroken(problem);
            };

            // A provider raises its reload token only after it read its file successfully.
            _registrations.Add(ChangeToken.OnChange(provider.GetReloadToken, () =>
            {
                if (_broken.TryRemove(provider, out _))
                {
                    onRepaired(provider.Source.FileProvider?.GetFileInfo(provider.Source.Path ?? string.Empty).PhysicalPath ?? provider.Source.Path ?? "?");
                }
            }));
        }
    }

    /// <summary>The problem of a file whose last edit could not be read, if any.</summary>
    public string? Broken => _broken.IsEmpty ? null : _broken.Values.FirstOrDefault();

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
