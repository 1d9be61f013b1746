using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace Gateway.IntegrationTests.StatusPage;

/// <summary>A page in its own browser context, collecting console errors and uncaught exceptions.</summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;

    public BrowserPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Errors.Enqueue($"console: {message.Text}");
            }
        };
        page.PageError += (_, error) => Errors.Enqueue($"page error: {error}");
    }

    public IPage Page { get; }

    /// <summary>Console errors and uncaught exceptions, in order.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <summary>Saves a full-page screenshot under <see cref="ChromiumFixture.ArtifactsDirectory"/> and attaches it to the test.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(ChromiumFixture.ArtifactsDirectory);
        var path = Path.Combine(ChromiumFixture.ArtifactsDirectory, $"{name}.png");
        var png = await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.AddAttachment(name, png, "image/png");
        return path;
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}
