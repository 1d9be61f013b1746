using System.IO.Hashing;
using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Plugins;

/// <summary>The real gateway process with a plug-in directory: <c>samples/DigestPlugin</c>'s publish output, copied into it.</summary>
[Collection(nameof(Samples.SampleBuilds))]
public sealed class PluginLoaderTests(DigestPluginFixture plugin) : IClassFixture<DigestPluginFixture>
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task LoadAll_PublishedPlugin_PeerFramesReachItsHandlerWhichUsesItsOwnDependency()
    {
        string[] texts = ["alpha", "beta", "gamma"];
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            foreach (var text in texts)
            {
                await s.SendTextAsync(text);
            }
        });
        await using var gateway = GatewayProcess.Start(new()
        {
            ["Gateway__Plugins__Directory"] = plugin.CreatePluginDirectory(plugin.Published, "digest"),
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
            ["Gateway__Sockets__feed__Handlers__0"] = "digest",
            ["Gateway__Handlers__digest__Path"] = "{dir}/digest.jsonl",
        });

        var file = gateway.File("digest.jsonl");
        await Eventually.TrueAsync(() => GatewayProcess.ReadLines(file).Count == texts.Length, "the plug-in's handler wrote every frame", s_startTimeout);
        var lines = GatewayProcess.ReadLines(file).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(texts, lines.Select(l => l.GetProperty("Text").GetString()));
        Assert.All(lines, l => Assert.Equal("feed", l.GetProperty("Socket").GetString()));

        // The digest comes from the plug-in's own xxHash library (not the gateway's): loaded into the plug-in's context.
        Assert.Equal(texts.Select(t => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(t)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture)), lines.Select(l => l.GetProperty("Xxh64").GetString()));
        Assert.All(lines, l => Assert.Equal("digest", l.GetProperty("HashLibraryLoadContext").GetString()));

        var listed = Assert.Single(JsonDocument.Parse(await gateway.Http.GetStringAsync("/plugins")).RootElement.EnumerateArray());
        Assert.Equal("digest", listed.GetProperty("name").GetString());
        Assert.Equal("DigestPlugin.dll", listed.GetProperty("assembly").GetString());
        Assert.StartsWith("1.0.0", listed.GetProperty("version").GetString(), StringComparison.Ordinal);
        Assert.Equal(["digest"], listed.GetProperty("handlers").EnumerateArray().Select(h => h.GetString()));
        Assert.Contains(gateway.Output, l => l.Contains("\"EventId\":{\"Id\":900", StringComparison.Ordinal) && l.Contains("\"Handlers\":\"digest\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, gateway.Get("/health/ready"));
    }

    [Fact]
    public async Task LoadAll_TwoPluginsRegisterOneHandlerName_ExitsOneNamingTheAssemblyAndTheName()
    {
        var directory = plugin.CreatePluginDirectory(plugin.Published, "first", "second");

        var output = await ExitsOneAsync(directory);

        Assert.Contains($"Plug-in 'second' ({Path.Combine(directory, "second", "DigestPlugin.dll")}): DigestPlugin.Plugin.Configure failed: the frame handler name 'digest' is already registered by plug-in 'first'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Plug-in 'first'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAll_PluginBuiltAgainstOtherAbstractionsMajorVersion_ExitsOneNamingTheAssemblyAndBothVersions()
    {
        var directory = plugin.CreatePluginDirectory(await plugin.OtherMajorVersionAsync(), "digest");

        var output = await ExitsOneAsync(directory);

        Assert.Contains($"Plug-in 'digest' ({Path.Combine(directory, "digest", "DigestPlugin.dll")}): built against Gateway.Abstractions 2.0.0, but this gateway has 1.0.0: the major versions must match", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAll_AssemblyThatDoesNotLoad_ExitsOneNamingTheAssemblyAndTheReason()
    {
        var directory = plugin.CreatePluginDirectory(plugin.Published, "broken");
        await File.WriteAllTextAsync(Path.Combine(directory, "broken", "DigestPlugin.dll"), "not an assembly", TestContext.Current.CancellationToken);

        var output = await ExitsOneAsync(directory);

        Assert.Contains($"Plug-in 'broken' ({Path.Combine(directory, "broken", "DigestPlugin.dll")}): could not be loaded: ", output, StringComparison.Ordinal);
    }

    /// <summary>Starts the gateway on <paramref name="pluginDirectory"/>, expects exit code 1 with the problem in plain text and no stack trace, and returns the output.</summary>
    private static async Task<string> ExitsOneAsync(string pluginDirectory)
    {
        await using var gateway = await GatewayProcess.RunToExitAsync(new() { ["Gateway__Plugins__Directory"] = pluginDirectory, ["Gateway__Sockets__demo__Enabled"] = "false" }, s_startTimeout);

        var output = string.Join('\n', gateway.Output);
        Assert.Equal(1, gateway.ExitCode);
        Assert.StartsWith("Invalid Gateway configuration:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        return output;
    }
}
