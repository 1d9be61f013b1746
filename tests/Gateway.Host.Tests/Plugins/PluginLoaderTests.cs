using Gateway.Host.Configuration;
using Gateway.Host.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Tests.Plugins;

/// <summary>The plug-in directory and folder rules; loading real plug-ins is in Gateway.IntegrationTests' PluginLoaderTests.</summary>
public sealed class PluginLoaderTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("gateway-plugin-loader-");

    [Fact]
    public void ResolveDirectory_Unset_PluginsBesideTheApplication()
    {
        var directory = PluginLoader.ResolveDirectory(new ConfigurationBuilder().Build(), out var configured);

        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "plugins"), directory);
        Assert.False(configured);
    }

    [Fact]
    public void ResolveDirectory_Relative_ResolvedAgainstTheApplicationFolder()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(PluginLoader.DirectoryKey, "extra/plugins")]).Build();

        var directory = PluginLoader.ResolveDirectory(configuration, out var configured);

        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "extra", "plugins"), directory);
        Assert.True(configured);
    }

    [Fact]
    public void LoadAll_DefaultDirectoryMissing_NoPlugins()
        => Assert.Empty(PluginLoader.LoadAll(Path.Combine(_directory.FullName, "missing"), configured: false, Builder()));

    [Fact]
    public void LoadAll_ConfiguredDirectoryMissing_ThrowsNamingTheKeyAndTheDirectory()
    {
        var missing = Path.Combine(_directory.FullName, "missing");

        var error = Assert.Throws<GatewayConfigurationException>(() => PluginLoader.LoadAll(missing, configured: true, Builder()));

        Assert.Equal($"Gateway:Plugins:Directory: the plug-in directory '{missing}' does not exist", Assert.Single(error.Errors));
    }

    [Fact]
    public void LoadAll_FoldersWithoutAnAssembly_ThrowsNamingEachFolderHiddenFoldersSkipped()
    {
        Directory.CreateDirectory(Path.Combine(_directory.FullName, "..data"));
        Directory.CreateDirectory(Path.Combine(_directory.FullName, "empty"));
        var twoDeps = Directory.CreateDirectory(Path.Combine(_directory.FullName, "two"));
        File.WriteAllText(Path.Combine(twoDeps.FullName, "A.deps.json"), "{}");
        File.WriteAllText(Path.Combine(twoDeps.FullName, "B.deps.json"), "{}");

        var error = Assert.Throws<GatewayConfigurationException>(() => PluginLoader.LoadAll(_directory.FullName, configured: true, Builder()));

        Assert.Equal(
            [
                $"Plug-in 'empty' ({Path.Combine(_directory.FullName, "empty")}): no plug-in assembly: expected empty.dll, or one *.deps.json beside its assembly (the output of dotnet publish)",
                $"Plug-in 'two' ({twoDeps.FullName}): no plug-in assembly: expected two.dll, or one *.deps.json beside its assembly (the output of dotnet publish)",
            ],
            error.Errors);
    }

    [Fact]
    public void LoadAll_AssemblyWithoutAPlugin_ThrowsNamingTheAssembly()
    {
        // This test assembly references Gateway.Abstractions, but has no public IGatewayPlugin.
        var folder = Directory.CreateDirectory(Path.Combine(_directory.FullName, "tests"));
        var assembly = Path.Combine(folder.FullName, "tests.dll");
        File.Copy(typeof(PluginLoaderTests).Assembly.Location, assembly);

        var error = Assert.Throws<GatewayConfigurationException>(() => PluginLoader.LoadAll(_directory.FullName, configured: true, Builder()));

        Assert.Equal($"Plug-in 'tests' ({assembly}): has no public class implementing IGatewayPlugin", Assert.Single(error.Errors));
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private static GatewayBuilder Builder() => new(new ServiceCollection(), new GatewayNames(), "the application");
}
