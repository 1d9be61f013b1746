using System.Buffers;
using System.Reflection;
using Gateway.Host.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Gateway.Host.StatusPage;

/// <summary>
/// The status page: <c>/</c>, <c>/status.js</c> and <c>/status.css</c> from embedded resources, and the
/// <c>/events</c> stream. Read-only: its actions call the socket API, with the key the user typed in.
/// </summary>
internal static class StatusPageEndpoints
{
    /// <summary>No inline script or style, nothing from elsewhere, never in a frame.</summary>
    public const string ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

    public const string EventsPath = "/events";

    private static readonly StaticAsset[] s_assets =
    [
        new("/", "index.html", "text/html; charset=utf-8"),
        new("/status.js", "status.js", "text/javascript; charset=utf-8"),
        new("/status.css", "status.css", "text/css; charset=utf-8"),
    ];

    /// <summary>Maps the page and its stream when <c>Gateway:StatusPage:Enabled</c> (read once, at startup).</summary>
    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptionsMonitor<GatewayOptions>>().CurrentValue;
        if (!options.StatusPage.Enabled)
        {
            return endpoints;
        }

        foreach (var asset in s_assets)
        {
            var content = Load(asset.Resource);
            endpoints.MapGet(asset.Path, (HttpContext context) =>
            {
                SetSecurityHeaders(context.Response);
                context.Response.Headers.CacheControl = "no-cache";
                return Results.Bytes(content, asset.ContentType);
            });
        }

        endpoints.MapGet(EventsPath, StreamAsync);
        return endpoints;
    }

    /// <summary>Server-Sent Events until the browser leaves, the client is too slow, or the host stops.</summary>
    private static async Task StreamAsync(HttpContext context, StatusEventStream stream, IHostApplicationLifetime lifetime)
    {
        var response = context.Response;
        SetSecurityHeaders(response);
        using var client = stream.TryConnect();
        if (client is null)
        {
            // EventSource retries by itself; a page that gets 503 shows that the gateway is busy.
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.RetryAfter = "5";
            return;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // a proxy in front must not hold events back
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, client.Dropped, lifetime.ApplicationStopping);
        var writer = response.BodyWriter;
        try
        {
            // EventSource reconnects after 1 s (Chromium's default is 3 s) when the stream ends.
            writer.Write("retry: 1000\n\n"u8);
            await writer.FlushAsync(ended.Token).ConfigureAwait(false);
            var events = client.Events;
            while (await events.WaitToReadAsync(ended.Token).ConfigureAwait(false))
            {
                while (events.TryRead(out var message))
                {
                    writer.Write(message);
                }

                await writer.FlushAsync(ended.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }

        if (client.Dropped.IsCancellationRequested)
        {
            // A write to a client that does not read may never complete: cut the connection.
            context.Abort();
        }
    }

    private static void SetSecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }

    private static byte[] Load(string name)
    {
        var assembly = Assembly.GetExecutingAssembly();
        using var resource = assembly.GetManifestResourceStream($"StatusPage/{name}")
            ?? throw new InvalidOperationException($"The embedded resource StatusPage/{name} is missing from {assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        return copy.ToArray();
    }

    private sealed record StaticAsset(string Path, string Resource, string ContentType);
}
