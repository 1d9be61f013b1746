using Gateway.Testing;
using Microsoft.Playwright;

namespace Gateway.IntegrationTests.StatusPage;

/// <summary>
/// One headless Debian chromium (<c>/usr/bin/chromium</c>, driven by Playwright) per test class. Missing
/// chromium skips the browser tests on a developer machine and fails them where they are required:
/// <c>GATEWAY_REQUIRE_BROWSER=1</c> (set by <c>.ci/run</c>), else as broker tests are (<c>GATEWAY_REQUIRE_BROKERS</c>, <c>CI</c>).
/// </summary>
/// <remarks>Playwright's own browser download is never used (it is not reachable), hence <see cref="ExecutablePath"/>.</remarks>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public const string RequireVariable = "GATEWAY_REQUIRE_BROWSER";

    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private string? _absent;

    /// <summary>Where screenshots go: <c>artifacts/status-page/</c> beside the test assembly.</summary>
    public static string ArtifactsDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "artifacts", "status-page");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            _absent = $"{ExecutablePath} does not exist";
            return;
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A fresh context and page (nothing shared between tests but the browser process), or skip/fail without chromium.</summary>
    public async Task<BrowserPage> NewPageAsync()
    {
        if (_browser is null)
        {
            TestDependency.Unavailable(
                $"Debian's chromium is needed for the status page's browser tests: {_absent}. Install it with `apt-get install -y chromium` (or `.ci/chromium.sh` as root).",
                "Browser tests",
                RequireVariable);
        }

        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 700 } });
        return new BrowserPage(context, await context.NewPageAsync());
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
