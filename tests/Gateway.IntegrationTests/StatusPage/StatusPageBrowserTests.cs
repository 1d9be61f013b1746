using System.Globalization;
using System.Text.RegularExpressions;
using Gateway.Testing;
using Microsoft.Playwright;

namespace Gateway.IntegrationTests.StatusPage;

/// <summary>
/// The status page in a real browser (Debian's chromium through Playwright) against a real gateway on
/// 127.0.0.1 and real upstream servers. Screenshots: <c>bin/.../artifacts/status-page/*.png</c>, also attached to each test.
/// </summary>
public sealed partial class StatusPageBrowserTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private const string ApiKey = "page-test-key";

    private static readonly LocatorAssertionsToHaveClassOptions s_soon = new() { Timeout = 15_000 };

    /// <summary>An upstream that sends a small message every 50 ms while connected.</summary>
    private static Task<UpstreamServer> StartTickingUpstreamAsync()
        => UpstreamServer.StartAsync(async session =>
        {
            for (var i = 0; !session.Closed.IsCompleted; i++)
            {
                try
                {
                    await session.SendTextAsync($"{{\"tick\":{i}}}");
                }
                catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or ObjectDisposedException or OperationCanceledException)
                {
                    return;
                }

                await Task.WhenAny(session.Closed, Task.Delay(50));
            }
        });

    private static ILocator Row(IPage page, string socket) => page.Locator($"tr.row[data-socket='{socket}']");

    /// <summary>A new page on the gateway's <c>/</c>.</summary>
    private async Task<BrowserPage> OpenAsync(GatewayTestHost gateway)
    {
        var browser = await chromium.NewPageAsync();
        await browser.Page.GotoAsync(gateway.Http.BaseAddress!.ToString());
        return browser;
    }

    /// <summary>The socket's row, once it shows Ready.</summary>
    private static async Task<ILocator> ReadyRowAsync(IPage page, string socket)
    {
        var row = Row(page, socket);
        await Assertions.Expect(row).ToHaveClassAsync(StateOk(), s_soon);
        return row;
    }

    /// <summary>Opens the row's details, checks they show <paramref name="expected"/>, saves a screenshot, and checks the console stayed clean.</summary>
    private static async Task ExpandAndFinishAsync(BrowserPage browser, ILocator row, string expected, string screenshot)
    {
        await row.Locator("button.expand").ClickAsync();
        await Assertions.Expect(browser.Page.Locator("tr.detail")).ToContainTextAsync(expected);
        await browser.ScreenshotAsync(screenshot);
        NoErrors(browser);
    }

    private static void NoErrors(BrowserPage page) => Assert.True(page.Errors.IsEmpty, string.Join(Environment.NewLine, page.Errors));

    [Fact]
    public async Task Open_SocketReady_RowShowsReadyWithItsRedactedUrlAndRateMoving()
    {
        await using var upstream = await StartTickingUpstreamAsync();
        var url = new Uri($"ws://user:pw-secret@127.0.0.1:{upstream.Port}/ws?token=q-secret");
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("feed", url));
        await using var browser = await OpenAsync(gateway);
        var page = browser.Page;

        var row = await ReadyRowAsync(page, "feed");
        await Assertions.Expect(row.Locator(".state")).ToHaveTextAsync("Ready");
        await Assertions.Expect(row).ToContainTextAsync($"ws://127.0.0.1:{upstream.Port}/ws?redacted");
        await Assertions.Expect(page.Locator("#feed")).ToHaveTextAsync("live");
        await Eventually.TrueAsync(async () => double.TryParse(await row.Locator("td").Nth(6).TextContentAsync(), CultureInfo.InvariantCulture, out var rate) && rate > 0, "the In/s cell shows frames arriving");
        Assert.DoesNotContain("secret", await page.ContentAsync(), StringComparison.Ordinal);

        // The details: the socket's facts and its (empty) disconnect history.
        await ExpandAndFinishAsync(browser, row, "received", "ready");
    }

    [Fact]
    public async Task Open_UpstreamStops_RowTurnsRedWithTheReasonWithinTwoSeconds()
    {
        await using var upstream = await StartTickingUpstreamAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("feed", upstream.Url()));
        await using var browser = await OpenAsync(gateway);
        var page = browser.Page;
        var row = await ReadyRowAsync(page, "feed");

        // StopAsync drops the open connection at once (no close frame), then stops the server.
        var dropped = System.Diagnostics.Stopwatch.StartNew();
        await upstream.StopAsync();

        // Within 2 s: red, with the reason in the same update.
        await Assertions.Expect(row).ToHaveClassAsync(StateDown(), new() { Timeout = 2_000 });
        Assert.NotEmpty((await row.Locator("td.reason").TextContentAsync())!);
        TestContext.Current.TestOutputHelper?.WriteLine($"red {dropped.ElapsedMilliseconds} ms after the upstream dropped the connection");
        await ExpandAndFinishAsync(browser, row, "connection_lost", "down");
    }

    [Fact]
    public async Task Actions_WithoutKeyThenWithKey_AskForTheKeyThenReconnectAndSendReachTheServer()
    {
        await using var upstream = await StartTickingUpstreamAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("feed", upstream.Url()).Set("Gateway:Api:Key", ApiKey));
        await using var browser = await chromium.NewPageAsync();
        var page = browser.Page;
        var requests = new List<string>();
        page.Request += (_, request) => requests.Add($"{request.Method} {request.Url}");
        await page.GotoAsync(gateway.Http.BaseAddress!.ToString());
        var row = await ReadyRowAsync(page, "feed");
        Assert.Equal(1, upstream.ConnectionCount);

        // No key: the page asks for it and sends nothing.
        await row.Locator("button.reconnect").ClickAsync();
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("Enter the API key");
        await Assertions.Expect(page.Locator("#api-key")).ToBeFocusedAsync();
        await Task.Delay(300);
        Assert.Equal(1, upstream.ConnectionCount);
        Assert.DoesNotContain(requests, r => r.StartsWith("POST", StringComparison.Ordinal));

        // With the key: the existing reconnect endpoint is called, and the upstream sees a new connection.
        await page.Locator("#api-key").FillAsync(ApiKey);
        await page.Locator("#use-key").ClickAsync();
        await Assertions.Expect(page.Locator("#key-state")).ToContainTextAsync("key set");
        await row.Locator("button.reconnect").ClickAsync();
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("feed: reconnecting");
        await Eventually.TrueAsync(() => upstream.ConnectionCount == 2, "the upstream sees the reconnect");
        await Assertions.Expect(row.Locator("td").Nth(12)).ToHaveTextAsync("1", new() { Timeout = 10_000 }); // reconnects

        // Send: the test message goes to the upstream through the send endpoint.
        await page.Locator("#test-message").FillAsync("hello from the page");
        await row.Locator("button.send").ClickAsync();
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("feed: Sent");
        await Eventually.TrueAsync(() => upstream.LastSession!.Received.Any(m => System.Text.Encoding.UTF8.GetString(m.Data) == "hello from the page"), "the upstream receives the test message");

        // The key went in a header only: not in any URL, not in storage, not left in the input.
        Assert.Contains(requests, r => r.StartsWith("POST", StringComparison.Ordinal) && r.EndsWith("/sockets/feed/reconnect", StringComparison.Ordinal));
        Assert.Contains(requests, r => r.StartsWith("POST", StringComparison.Ordinal) && r.EndsWith("/sockets/feed/messages", StringComparison.Ordinal));
        Assert.DoesNotContain(requests, r => r.Contains(ApiKey, StringComparison.Ordinal));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => localStorage.length + sessionStorage.length"));
        Assert.Equal(string.Empty, await page.Locator("#api-key").InputValueAsync());
        await browser.ScreenshotAsync("reconnected");
        NoErrors(browser);
    }

    [Fact]
    public async Task Expand_PhoenixTopicRefused_DetailsShowEachTopicWithItsStateErrorAndRejoin()
    {
        await using var server = new PhoenixServer
        {
            Topics = ["room:*"],
            PresenceOnJoin = false,
            Authorizer = (topic, _) => topic == "room:b" ? JoinDecision.Unauthorized : JoinDecision.Ok(),
        };
        await server.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("p", server.Url(),
            ("Protocol", "Phoenix"), ("Phoenix:Topics:0:Topic", "room:a"), ("Phoenix:Topics:1:Topic", "room:b"), ("Phoenix:RejoinAfter:0", "00:01:00")));
        await using var browser = await OpenAsync(gateway);
        var page = browser.Page;

        await Row(page, "p").Locator("button.expand").ClickAsync();

        var detail = page.Locator("tr.detail");
        await Assertions.Expect(detail.Locator("h3").First).ToHaveTextAsync("Topics");
        await Assertions.Expect(detail.Locator("tr", new() { HasText = "room:a" })).ToContainTextAsync("Joined", new() { Timeout = 10_000 });
        var refused = detail.Locator("tr", new() { HasText = "room:b" });
        await Assertions.Expect(refused).ToContainTextAsync("Rejoining", new() { Timeout = 10_000 });
        await Assertions.Expect(refused).ToContainTextAsync("unauthorized");
        await Assertions.Expect(refused).ToContainTextAsync(NextAttempt());
        await browser.ScreenshotAsync("topics");
        NoErrors(browser);
    }

    [Fact]
    public async Task Open_TwoThousandSockets_OnlyTheVisibleRowsAreInTheDomAndScrollingShowsTheLast()
    {
        // 10k render as fast (0.5 s to the first rows, measured), but the gateway takes 10 s to start with
        // 10k sockets configured; 2000 keep this test short.
        const int count = 2000;
        var config = new TestConfig();
        for (var i = 0; i < count; i++)
        {
            // Disabled sockets are listed without connecting: many rows, no load.
            config.Socket($"s{i:D5}", new Uri("ws://127.0.0.1:9/ws"), ("Enabled", "false"));
        }

        await using var gateway = await GatewayTestHost.StartAsync(config);
        await using var browser = await OpenAsync(gateway);
        var page = browser.Page;

        await Assertions.Expect(page.Locator("#summary")).ToContainTextAsync($"{count} sockets");
        await Assertions.Expect(Row(page, "s00000")).ToBeVisibleAsync();
        Assert.InRange(await page.Locator("tr.row").CountAsync(), 10, 100);

        await page.Locator("#viewport").EvaluateAsync("v => v.scrollTop = v.scrollHeight");
        await Assertions.Expect(Row(page, $"s{count - 1:D5}")).ToBeVisibleAsync();
        Assert.InRange(await page.Locator("tr.row").CountAsync(), 10, 100);
        Assert.Equal(0, await Row(page, "s00000").CountAsync());
        NoErrors(browser);
    }

    [GeneratedRegex(@"in \d+ s")]
    private static partial Regex NextAttempt();

    [GeneratedRegex(@"\bstate-ok\b")]
    private static partial Regex StateOk();

    [GeneratedRegex(@"\bstate-down\b")]
    private static partial Regex StateDown();
}
