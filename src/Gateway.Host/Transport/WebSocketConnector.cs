using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;

namespace Gateway.Host.Transport;

/// <summary>
/// Opens <see cref="ClientWebSocket"/>s over one shared <see cref="HttpMessageInvoker"/> (one for
/// sockets that opt out of certificate validation). Proxies come from the usual environment
/// variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY).
/// </summary>
internal sealed class WebSocketConnector : IDisposable
{
    private readonly HttpMessageInvoker _invoker = new(CreateHandler(acceptAnyCertificate: false));
    private readonly Lazy<HttpMessageInvoker> _insecureInvoker = new(() => new HttpMessageInvoker(CreateHandler(acceptAnyCertificate: true)));

    /// <summary>Connects to <paramref name="url"/> (the configured URL without credentials), or throws
    /// <see cref="ConnectException"/> with the handshake's HTTP status when there was one.</summary>
    public async Task<ClientWebSocket> ConnectAsync(SocketOptions options, Uri url, IReadOnlyList<string> protocolSubProtocols, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        try
        {
            foreach (var subProtocol in protocolSubProtocols)
            {
                socket.Options.AddSubProtocol(subProtocol);
            }

            Configure(socket.Options, options);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            var invoker = options.DangerousAcceptAnyServerCertificate ? _insecureInvoker.Value : _invoker;
            try
            {
                await socket.ConnectAsync(url, invoker, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ConnectException($"no handshake within ConnectTimeout ({options.ConnectTimeout.TotalSeconds:0.###} s)", null, "timeout");
            }
            catch (WebSocketException ex) when (socket.HttpStatusCode is not (0 or HttpStatusCode.SwitchingProtocols))
            {
                var status = (int)socket.HttpStatusCode;
                throw new ConnectException($"handshake refused with HTTP {status}", status, $"http_{status}", ex);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException)
            {
                var root = ex.GetBaseException();
                throw new ConnectException(root.Message, null, root.GetType().Name, ex);
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

    private static void Configure(ClientWebSocketOptions target, SocketOptions options)
    {
        target.CollectHttpResponseDetails = true;
        target.KeepAliveInterval = options.KeepAliveInterval;
        target.KeepAliveTimeout = options.KeepAliveTimeout > TimeSpan.Zero ? options.KeepAliveTimeout : Timeout.InfiniteTimeSpan;
        foreach (var subProtocol in options.SubProtocols)
        {
            target.AddSubProtocol(subProtocol);
        }

        foreach (var (name, value) in options.Headers)
        {
            target.SetRequestHeader(name, value);
        }

        // ws://user:password@host: send the credentials as Basic authorization, as browsers do.
        if (options.Url is { UserInfo.Length: > 0 } url && !options.Headers.ContainsKey("Authorization"))
        {
            var credentials = Uri.UnescapeDataString(url.UserInfo);
            target.SetRequestHeader("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
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
}
