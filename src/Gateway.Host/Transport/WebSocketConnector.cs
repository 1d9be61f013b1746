using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Transport;

/// <summary>
/// Opens WebSockets: the gateway's own, upgraded by hand over a socket (<see cref="DirectUpgrade"/>;
/// through the shared <see cref="HttpMessageInvoker"/> only when the proxy is not an http one), or
/// <see cref="ClientWebSocket"/> over the shared invoker (one for sockets that opt out of certificate
/// validation) when a socket's <c>Transport</c> says so. Proxies come from the usual environment
/// variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) on both paths. Runs the socket's connect
/// hook, if it has one, before each attempt.
/// </summary>
internal sealed class WebSocketConnector(IServiceProvider services) : IDisposable
{
    private readonly HttpMessageInvoker _invoker = new(CreateHandler(acceptAnyCertificate: false));
    /// <summary>Upgrades in flight at once, across all sockets.</summary>
    /// <remarks>
    /// 10,000 sockets starting together would otherwise send 10,000 SYNs at once: the server's accept
    /// backlog (512 for Kestrel) overflows, dropped SYNs are retried only after 1 s, then 2 s, ..., and
    /// thousands of handshakes share the CPU, so none finishes early.
    /// </remarks>
    public const int MaxConnectsInFlight = 64;

    private readonly SemaphoreSlim _inFlight = new(MaxConnectsInFlight, MaxConnectsInFlight);
    private readonly Lazy<HttpMessageInvoker> _insecureInvoker = new(() => new HttpMessageInvoker(CreateHandler(acceptAnyCertificate: true)));

    /// <summary>Connects to <paramref name="url"/> (the configured URL without credentials), or throws
    /// <see cref="ConnectException"/> with the handshake's HTTP status when there was one.</summary>
    /// <param name="socketName">The socket, for its connect hook.</param>
    /// <param name="options">The socket's options.</param>
    /// <param name="url">The URL; the connect hook may change its query.</param>
    /// <param name="protocolSubProtocols">The protocol's subprotocols, offered before the configured ones.</param>
    /// <param name="attempt">The socket's attempt number, for its connect hook.</param>
    /// <param name="cancellationToken">The socket is stopping.</param>
    public async Task<WebSocket> ConnectAsync(string socketName, SocketOptions options, Uri url, IReadOnlyList<string> protocolSubProtocols, int attempt, CancellationToken cancellationToken)
    {
        if (!url.IsAbsoluteUri)
        {
            throw new ConnectException($"'{url}' is a path on this gateway, which listens on no HTTP address", null, "no_listen_address");
        }

        var headers = GetHeaders(options);
        if (options.ConnectHook is { Length: > 0 } hookName)
        {
            // Validation made sure it is registered; resolved per attempt, so the connection holds no reference to it.
            var hook = services.GetRequiredKeyedService<IConnectHook>(hookName);
            url = await ConnectHookInvoker.RunAsync(hook, hookName, socketName, attempt, url, headers, options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }

        // ConnectTimeout bounds the attempt itself, not the wait for a turn.
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        HttpMessageInvoker Invoker() => options.DangerousAcceptAnyServerCertificate ? _insecureInvoker.Value : _invoker;
        try
        {
            if (options.Transport == SocketTransport.ClientWebSocket)
            {
                return await ConnectClientWebSocketAsync(Invoker(), url, options, headers, protocolSubProtocols, timeout.Token).ConfigureAwait(false);
            }

            IReadOnlyList<string> subProtocols = options.SubProtocols.Count == 0 ? protocolSubProtocols : [.. protocolSubProtocols, .. options.SubProtocols];
            var proxy = HttpClient.DefaultProxy;
            var proxyUrl = DirectUpgrade.ProxyFor(proxy, url);
            var (stream, subProtocol, deflate) = DirectUpgrade.CanTunnel(proxyUrl)
                ? await DirectUpgrade.UpgradeAsync(url, proxy, proxyUrl, headers, subProtocols, options.Compression, options.DangerousAcceptAnyServerCertificate, timeout.Token).ConfigureAwait(false)
                : await WebSocketUpgrade.UpgradeAsync(Invoker(), url, headers, subProtocols, options.Compression, timeout.Token).ConfigureAwait(false);
            return new GatewayWebSocket(stream, subProtocol, deflate);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConnectException($"no handshake within ConnectTimeout ({options.ConnectTimeout.TotalSeconds:0.###} s)", null, "timeout");
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private static async Task<WebSocket> ConnectClientWebSocketAsync(HttpMessageInvoker invoker, Uri url, SocketOptions options, Dictionary<string, string> headers, IReadOnlyList<string> protocolSubProtocols, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        try
        {
            foreach (var subProtocol in protocolSubProtocols)
            {
                socket.Options.AddSubProtocol(subProtocol);
            }

            Configure(socket.Options, options, headers);
            try
            {
                await socket.ConnectAsync(url, invoker, cancellationToken).ConfigureAwait(false);
            }
            catch (WebSocketException ex) when (socket.HttpStatusCode is not (0 or HttpStatusCode.SwitchingProtocols))
            {
                var location = socket.HttpResponseHeaders?.TryGetValue("Location", out var values) == true ? string.Join(",", values) : null;
                throw ConnectException.Refused((int)socket.HttpStatusCode, location, ex);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException)
            {
                throw ConnectException.From(ex);
            }

            socket.HttpResponseHeaders = null; // kept only for failed handshakes; ~0.3 KiB per idle socket
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A path configured as a socket's URL (<c>/demo/ticks</c>) is on this gateway's own HTTP
    /// endpoint: the first <c>http</c> address it listens on (else the first address), with a
    /// wildcard host read as 127.0.0.1. Known only once the server has started.
    /// </summary>
    public bool TryResolveSelf(Uri path, [NotNullWhen(true)] out Uri? url)
    {
        url = null;
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        var address = addresses?.FirstOrDefault(static a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses?.FirstOrDefault();
        if (address is null || !Uri.TryCreate(address.Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal), UriKind.Absolute, out var listening))
        {
            return false;
        }

        var host = listening.Host is "0.0.0.0" or "[::]" ? "127.0.0.1" : listening.Host;
        var scheme = listening.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
        url = new Uri(new Uri($"{scheme}://{host}:{listening.Port}"), path);
        return true;
    }

    /// <summary>The configured headers, plus Basic authorization for <c>ws://user:password@host</c>, as browsers do.</summary>
    private static Dictionary<string, string> GetHeaders(SocketOptions options)
    {
        var headers = new Dictionary<string, string>(options.Headers, StringComparer.OrdinalIgnoreCase);
        if (options.Url is { IsAbsoluteUri: true, UserInfo.Length: > 0 } url && !headers.ContainsKey("Authorization"))
        {
            var credentials = Uri.UnescapeDataString(url.UserInfo);
            headers["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials));
        }

        return headers;
    }

    private static void Configure(ClientWebSocketOptions target, SocketOptions options, Dictionary<string, string> headers)
    {
        target.CollectHttpResponseDetails = true;
        target.KeepAliveInterval = options.KeepAliveInterval;
        target.KeepAliveTimeout = options.KeepAliveTimeout > TimeSpan.Zero ? options.KeepAliveTimeout : Timeout.InfiniteTimeSpan;
        foreach (var subProtocol in options.SubProtocols)
        {
            target.AddSubProtocol(subProtocol);
        }

        if (options.Compression)
        {
            // Context takeover both ways, as the gateway's own transport offers it.
            target.DangerousDeflateOptions = new WebSocketDeflateOptions();
        }

        foreach (var (name, value) in headers)
        {
            target.SetRequestHeader(name, value);
        }
    }

    private static SocketsHttpHandler CreateHandler(bool acceptAnyCertificate)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = true,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = Timeout.InfiniteTimeSpan, // bounded per socket by ConnectTimeout
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        if (acceptAnyCertificate)
        {
#pragma warning disable CA5359 // Explicit per-socket opt-out (DangerousAcceptAnyServerCertificate), logged as a warning.
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
        }

        return handler;
    }

    public void Dispose()
    {
        // _inFlight stays: it holds no wait handle, and a connect still ending after disposal releases it.
        _invoker.Dispose();
        if (_insecureInvoker.IsValueCreated)
        {
            _insecureInvoker.Value.Dispose();
        }
    }
}

/// <summary>A failed connect attempt, with the handshake's HTTP status when the server answered.</summary>
internal sealed class ConnectException(string message, int? httpStatus, string errorType, Exception? inner = null)
    : Exception(message, inner)
{
    public int? HttpStatus { get; } = httpStatus;

    /// <summary>A low-cardinality description for the <c>error.type</c> metric tag.</summary>
    public string ErrorType { get; } = errorType;

    /// <summary>The server answered the upgrade with another status: "handshake refused with HTTP 301 (a redirect to ..., not followed)".</summary>
    public static ConnectException Refused(int status, string? location, Exception? inner = null)
    {
        var why = status switch
        {
            >= 300 and < 400 => $" (a redirect to {(string.IsNullOrEmpty(location) ? "no Location" : location)}, not followed)",
            >= 200 and < 300 => " (an HTTP endpoint, not a WebSocket one)",
            _ => string.Empty,
        };
        return new ConnectException($"handshake refused with HTTP {status}{why}", status, $"http_{status}", inner);
    }

    /// <summary>A network or TLS failure, its cause chain in one line ("The SSL connection could not be established: ...").</summary>
    public static ConnectException From(Exception exception)
    {
        var parts = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            var text = e.Message.Replace(", see inner exception", string.Empty, StringComparison.Ordinal).Trim().TrimEnd('.');
            if (text.Length > 0 && !parts.Exists(p => p.Contains(text, StringComparison.Ordinal)))
            {
                parts.Add(text);
            }
        }

        return new ConnectException(string.Join(": ", parts), null, exception.GetBaseException().GetType().Name, exception);
    }
}
