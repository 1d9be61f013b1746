using Gateway.IntegrationTests.Samples;

namespace Gateway.IntegrationTests.Plugins;

/// <summary>
/// <c>samples/DigestPlugin</c> published once per test class, and copied into a fresh plug-in directory
/// per test; built again against Gateway.Abstractions 2.0.0 (in a folder of its own) when a test asks.
/// </summary>
public sealed class DigestPluginFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("gateway-plugins-");
    private readonly Lazy<Task<string>> _otherMajor;
    private int _directories;

    public DigestPluginFixture() => _otherMajor = new(BuildAgainstOtherMajorAsync);

    /// <summary>The sample's <c>dotnet publish</c> output.</summary>
    public string Published => Path.Combine(_root.FullName, "published");

    public async ValueTask InitializeAsync() => await SampleProject.PublishAsync("DigestPlugin", Published);

    /// <summary>The publish output of the sample built against Gateway.Abstractions 2.0.0 (the gateway has 1.x).</summary>
    public Task<string> OtherMajorVersionAsync() => _otherMajor.Value;

    /// <summary>A new plug-in directory with a copy of <paramref name="source"/> in each of <paramref name="folders"/>.</summary>
    public string CreatePluginDirectory(string source, params string[] folders)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_root.FullName, $"plugins-{Interlocked.Increment(ref _directories)}")).FullName;
        foreach (var folder in folders)
        {
            var target = Directory.CreateDirectory(Path.Combine(directory, folder)).FullName;
            foreach (var file in Directory.GetFiles(source))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }

        return directory;
    }

    public ValueTask DisposeAsync()
    {
        _root.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }

    private async Task<string> BuildAgainstOtherMajorAsync()
    {
        // Version flows to the referenced Gateway.Abstractions too; its own artifacts path keeps the repository's outputs at 1.x.
        var output = Path.Combine(_root.FullName, "v2");
        await SampleProject.DotnetAsync(["publish", SampleProject.Path("DigestPlugin"), "-c", SampleProject.Configuration, "-p:Version=2.0.0", "--artifacts-path", Path.Combine(_root.FullName, "v2-artifacts"), "-o", output]);
        return output;
    }
}
