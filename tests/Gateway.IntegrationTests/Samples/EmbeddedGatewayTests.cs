using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Samples;

/// <summary><c>samples/EmbeddedGateway</c>: an application of its own hosting the gateway (<c>AddGateway</c>, <c>MapGateway</c>) with its own handler, as a real process.</summary>
[Collection(nameof(SampleBuilds))]
public sealed class EmbeddedGatewayTests
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Main_SocketToTheApplicationsHandler_PeerFramesCountedByTheApplicationsOwnEndpoint()
    {
        var published = Directory.CreateTempSubdirectory("gateway-embedded-");
        try
        {
            await SampleProject.PublishAsync("EmbeddedGateway", published.FullName);
            await using var server = await UpstreamServer.StartAsync(async s =>
            {
                for (var i = 0; i < 5; i++)
                {
                    await s.SendTextAsync($"frame {i}");
                }
            });
            await using var app = GatewayProcess.Start(
                new()
                {
                    ["Gateway__Sockets__demo__Enabled"] = "false",
                    ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
                    ["Gateway__Sockets__feed__Handlers__0"] = "count",
                },
                entryAssembly: Path.Combine(published.FullName, "EmbeddedGateway.dll"));

            long Count() => app.Get("/counts") == HttpStatusCode.OK
                && JsonDocument.Parse(app.Http.GetStringAsync("/counts").GetAwaiter().GetResult()).RootElement.TryGetProperty("feed", out var count) ? count.GetInt64() : 0;
            await Eventually.TrueAsync(() => Count() == 5, "the application's handler counted every frame", s_startTimeout);

            // The gateway's endpoints, mapped by MapGateway, beside the application's own.
            Assert.Equal(HttpStatusCode.OK, app.Get("/health/ready"));
            var sockets = JsonDocument.Parse(await app.Http.GetStringAsync("/sockets")).RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
            Assert.Equal("Ready", sockets["feed"].GetProperty("state").GetString());
            Assert.Equal("[]", await app.Http.GetStringAsync("/plugins"));
        }
        finally
        {
            published.Delete(recursive: true);
        }
    }
}
