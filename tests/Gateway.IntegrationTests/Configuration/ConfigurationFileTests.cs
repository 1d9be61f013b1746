using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Configuration;

/// <summary>The gateway's own <c>appsettings.json</c> edited while it runs, as an operator would (a real process, real file watching).</summary>
public sealed class ConfigurationFileTests
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Edit_MalformedWhileRunning_LoggedRunningConfigurationKeptUntilFixed()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("tick"));
        string Settings(params string[] names) => $$"""
            { "Gateway": { "Defaults": { "Handlers": [ "log" ] }, "Sockets": { {{string.Join(", ", names.Select(n => $"\"{n}\": {{ \"Url\": \"{server.Url()}\" }}"))}} } } }
            """;
        await using var gateway = GatewayProcess.Start(new() { ["Gateway__Sockets__demo__Enabled"] = "false" }, new() { ["appsettings.json"] = Settings("feed") });
        await Eventually.TrueAsync(() => gateway.Get("/health/ready") == HttpStatusCode.OK, "ready with the feed", s_startTimeout);

        // A missing brace: logged once with the file and the line, nothing applied.
        await File.WriteAllTextAsync(gateway.File("appsettings.json"), """{ "Gateway": { "Sockets": { """);
        await Eventually.TrueAsync(() => Events(gateway, 408).Any(e => e.Contains("appsettings.json", StringComparison.Ordinal) && e.Contains("LineNumber", StringComparison.Ordinal)), "the bad edit is logged");

        // Another source reloading meanwhile must not apply a configuration without that file (its sockets would vanish).
        await File.WriteAllTextAsync(gateway.File("appsettings.Production.json"), """{ "Gateway": { "ShutdownTimeout": "00:00:05" } }""");
        await Eventually.TrueAsync(() => Events(gateway, 410).Count > 0, "the reload is held back");
        Assert.Equal("Ready", State(await Sockets(gateway), "feed"));
        Assert.Empty(Events(gateway, 404));

        // Fixed: reads again, and the edit applies.
        await File.WriteAllTextAsync(gateway.File("appsettings.json"), Settings("feed", "feed2"));
        await Eventually.TrueAsync(() => Events(gateway, 409).Count > 0, "the repair is logged");
        await Eventually.TrueAsync(async () => State(await Sockets(gateway), "feed2") == "Ready", "the fixed file's new socket runs");
        Assert.Equal("Ready", State(await Sockets(gateway), "feed"));
        Assert.DoesNotContain(gateway.Output, l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("\\n   at ", StringComparison.Ordinal));
    }

    private static List<string> Events(GatewayProcess gateway, int id)
        => [.. gateway.Output.Where(l => l.Contains($"\"EventId\":{{\"Id\":{id}", StringComparison.Ordinal))];

    private static async Task<Dictionary<string, JsonElement>> Sockets(GatewayProcess gateway)
        => JsonDocument.Parse(await gateway.Http.GetStringAsync("/sockets")).RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);

    private static string? State(Dictionary<string, JsonElement> sockets, string name)
        => sockets.TryGetValue(name, out var socket) ? socket.GetProperty("state").GetString() : null;
}
