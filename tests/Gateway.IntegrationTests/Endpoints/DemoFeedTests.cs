using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Endpoints;

/// <summary>The out-of-the-box configuration as a real process: the demo socket and its feed.</summary>
public sealed class DemoFeedTests
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Demo_DefaultConfigurationOnAnyPort_ReadyAndASendComesBackAsAFrame()
    {
        // No appsettings.json in the working directory: the built-in default configuration, on a
        // port other than 8080 (GatewayProcess picks a free one through ASPNETCORE_URLS).
        await using var gateway = GatewayProcess.Start(new() { ["Gateway__Api__Key"] = "test-key" });

        await Eventually.TrueAsync(() => gateway.Get("/health/ready") == HttpStatusCode.OK, "the demo socket follows the port the host listens on", s_startTimeout);
        var demo = JsonDocument.Parse(await gateway.Http.GetStringAsync("/sockets")).RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "demo");
        Assert.Equal($"ws://127.0.0.1:{gateway.Http.BaseAddress!.Port}/demo/ticks", demo.GetProperty("url").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/sockets/demo/messages") { Content = new StringContent("hello-echo-7f3a", Encoding.UTF8, "text/plain") };
        request.Headers.Add("X-Api-Key", "test-key");
        using var response = await gateway.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        // The log handler logs the echo as a frame of the demo socket (event 500).
        await Eventually.TrueAsync(
            () => gateway.Output.Any(l => l.Contains("\"Id\":500", StringComparison.Ordinal) && l.Contains("hello-echo-7f3a", StringComparison.Ordinal)),
            "the demo feed echoed the send back as a frame");
    }
}
