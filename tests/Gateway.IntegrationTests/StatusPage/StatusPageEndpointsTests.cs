using System.Net;
using System.Text.Json;
using Gateway.Host.StatusPage;
using Gateway.Testing;

namespace Gateway.IntegrationTests.StatusPage;

/// <summary>The status page's HTTP side on a real host: assets, headers, the switch, and what /events shows.</summary>
public sealed partial class StatusPageEndpointsTests
{
    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/status.js", "text/javascript")]
    [InlineData("/status.css", "text/css")]
    public async Task Get_Enabled_ServesTheAssetWithTheContentSecurityPolicy(string path, string mediaType)
    {
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig());

        using var response = await gateway.Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(StatusPageEndpoints.ContentSecurityPolicy, string.Join(", ", response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", string.Join(", ", response.Headers.GetValues("X-Content-Type-Options")));
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.NotEmpty(body);
        if (path == "/")
        {
            // Everything the policy allows: scripts and styles from files, no inline script, style or handler.
            Assert.DoesNotContain("style=", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<style", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch(InlineHandler(), body);
            Assert.Contains("<script src=\"status.js\" defer></script>", body, StringComparison.Ordinal);
            Assert.DoesNotContain("http://", body, StringComparison.Ordinal);
            Assert.DoesNotContain("https://", body, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/events")]
    [InlineData("/status.js")]
    public async Task Get_Disabled_NotFound(string path)
    {
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:StatusPage:Enabled", "false"));

        using var response = await gateway.Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Events_UrlWithCredentialsAndQuery_SnapshotShowsItRedactedLikeHealth()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        var url = new Uri($"ws://alice:s3cret-pass@127.0.0.1:{server.Port}/ws?token=s3cret-token");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url));
        await Eventually.TrueAsync(() => gateway.Status("a").State == Gateway.Host.Health.SocketState.Ready, "a is ready");

        var (name, data) = await ReadFirstEventAsync(gateway, "snapshot");

        Assert.Equal("snapshot", name);
        Assert.DoesNotContain("s3cret", data, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", data, StringComparison.Ordinal);
        using var snapshot = JsonDocument.Parse(data);
        var socket = snapshot.RootElement.GetProperty("sockets").EnumerateArray().Single();
        Assert.Equal($"ws://127.0.0.1:{server.Port}/ws?redacted", socket.GetProperty("url").GetString());
        Assert.Equal("Ready", socket.GetProperty("state").GetString());

        using var health = JsonDocument.Parse(await gateway.Http.GetStringAsync(new Uri("/health/ready", UriKind.Relative), TestContext.Current.CancellationToken));
        Assert.Equal(health.RootElement.GetProperty("sockets")[0].GetProperty("url").GetString(), socket.GetProperty("url").GetString());
    }

    [Fact]
    public async Task Events_Connected_EventStreamWithRetryThenSnapshotThenRates()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        var (name, data) = await ReadFirstEventAsync(gateway, "rates");

        Assert.Equal("rates", name);
        using var rates = JsonDocument.Parse(data);
        Assert.Equal("a", rates.RootElement.GetProperty("sockets")[0].GetProperty("n").GetString());
    }

    /// <summary>Reads <c>/events</c> until an event named <paramref name="wanted"/>, checking the stream's start on the way.</summary>
    private static async Task<(string Name, string Data)> ReadFirstEventAsync(GatewayTestHost gateway, string wanted)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        using var response = await gateway.Http.GetAsync(new Uri("/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        Assert.Equal("retry: 1000", await reader.ReadLineAsync(timeout.Token));
        var first = true;
        string? name = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
                if (first)
                {
                    Assert.Equal("snapshot", name);
                    first = false;
                }
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && name == wanted)
            {
                return (name, line["data: ".Length..]);
            }
        }

        throw new InvalidOperationException($"the stream ended before a {wanted} event");
    }

    /// <summary>An inline event handler attribute such as <c>onclick=</c>.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\son[a-z]+\s*=", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex InlineHandler();
}
