using System.Net;
using Gateway.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Gateway.IntegrationTests;

/// <summary>The gateway's real entry point (<c>Program</c>) in process, through <see cref="WebApplicationFactory{TEntryPoint}"/>.</summary>
public sealed class ProgramTests
{
    [Fact]
    public async Task Program_DemoSocketPointedAtUpstream_ReadyAndMetricsFromEveryMeter()
    {
        await using var upstream = await UpstreamServer.StartAsync(s => s.SendTextAsync("tick"));
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseEnvironment("Production")
            .UseSetting("Gateway:Sockets:demo:Url", upstream.Url().ToString())
            .UseSetting("Serilog:MinimumLevel:Default", "Warning"));
        using var http = factory.CreateClient();

        await Eventually.TrueAsync(() => http.GetAsync("/health/ready").GetAwaiter().GetResult().StatusCode == HttpStatusCode.OK, "the demo socket is ready");
        // The exporter serves a cached scrape for a moment, and instruments appear once first used: wait for a complete one.
        string[] expected = ["gateway_frames_received_total{", "otel_scope_name=\"Microsoft.AspNetCore.Hosting\"", "otel_scope_name=\"System.Runtime\""];
        var metrics = string.Empty;
        await Eventually.TrueAsync(
            async () => expected.All((metrics = await http.GetStringAsync("/metrics")).Contains),
            "one scrape shows every meter");

        // One scrape carries the gateway's meter, ASP.NET Core's and the runtime's (the upgrade is the gateway's own,
        // not the HTTP client's, so the System.Net.Http meter has nothing to show here).
        Assert.Contains("gateway_frames_received_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("otel_scope_name=\"Microsoft.AspNetCore.Hosting\"", metrics, StringComparison.Ordinal);
        Assert.Contains("otel_scope_name=\"System.Runtime\"", metrics, StringComparison.Ordinal);
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("target_info{", StringComparison.Ordinal) && l.Contains("service_name=\"gateway\"", StringComparison.Ordinal));
    }
}
