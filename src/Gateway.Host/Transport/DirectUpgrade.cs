using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Gateway.Host.Transport;

/// <summary>
/// The RFC 6455 opening handshake done by hand over a <see cref="Socket"/> (and an <see cref="SslStream"/>
/// for wss), so that an upgraded connection is only the socket and its stream, without an HttpClient
/// connection and its buffers behind it. Keeps what the <see cref="HttpMessageInvoker"/> path gives: an
/// http proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) tunnels through CONNECT,
/// TLS with SNI, ALPN http/1.1 and no revocation check, custom headers, the W3C trace context of the
/// current span, the handshake's HTTP status in <see cref="ConnectException"/>, and failures worded as
/// HttpClient words them.
/// </summary>
internal static class DirectUpgrade
{
    // SocketsHttpHandler's MaxResponseHeadersLength default.
    private const int MaxHeadLength = 64 * 1024;
    private const int FirstReadSize = 1024;
    private static readonly List<SslApplicationProtocol> s_http11 = [SslApplicationProtocol.Http11];
#pragma warning disable CA5359 // Explicit per-socket opt-out (DangerousAcceptAnyServerCertificate), logged as a warning.
    private static readonly RemoteCertificateValidationCallback s_acceptAny = static (_, _, _, _) => true;
#pragma warning restore CA5359

    /// <summary>
    /// The proxy <paramref name="proxy"/> chooses for <paramref name="url"/> (asked for the http or https
    /// URL, as SocketsHttpHandler does for ws and wss), or null when there is none or the host bypasses it.
    /// </summary>
    public static Uri? ProxyFor(IWebProxy proxy, Uri url)
    {
        var target = new UriBuilder(url) { Scheme = IsSecure(url) ? Uri.UriSchemeHttps : Uri.UriSchemeHttp }.Uri;
        return proxy.IsBypassed(target) ? null : proxy.GetProxy(target);
    }

    /// <summary>Whether this path can reach <paramref name="url"/> through <paramref name="proxyUrl"/>: none, or an http proxy (CONNECT).</summary>
    public static bool CanTunnel(Uri? proxyUrl) => proxyUrl is null || proxyUrl.Scheme == Uri.UriSchemeHttp;

    /// <summary>Connects (through <paramref name="proxyUrl"/> if given), upgrades, or throws <see cref="ConnectException"/> saying what failed.</summary>
    /// <param name="url">A ws:// or wss:// URL.</param>
    /// <param name="proxy">The proxy <paramref name="proxyUrl"/> came from, for its credentials.</param>
    /// <param name="proxyUrl">An http:// proxy (<see cref="CanTunnel"/>), or null to connect directly.</param>
    /// <param name="headers">Request headers; a <c>Host</c> header replaces the URL's.</param>
    /// <param name="subProtocols">Subprotocols to offer, in order.</param>
    /// <param name="compression">Offer permessage-deflate (<see cref="DeflateParameters.Offer"/>).</param>
    /// <param name="acceptAnyCertificate">Skip certificate validation (DangerousAcceptAnyServerCertificate).</param>
    /// <param name="cancellationToken">Bounds the whole attempt.</param>
    /// <returns>The upgraded connection's stream, the subprotocol the server chose, and the permessage-deflate parameters it accepted (null: none).</returns>
    public static async Task<(Stream Stream, string? SubProtocol, DeflateParameters? Deflate)> UpgradeAsync(
        Uri url, IWebProxy? proxy, Uri? proxyUrl, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string> subProtocols, bool compression, bool acceptAnyCertificate, CancellationToken cancellationToken)
    {
        var host = url.IdnHost;
        var port = url.Port;

        // Dual mode where the OS has IPv6; a host name tries each of its addresses in turn.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

        // The attempt's token ends whatever is in progress by closing the socket; no I/O call gets it. A socket
        // keeps the token of its last operation for life, and with it the attempt's CancellationTokenSource.
        var abort = cancellationToken.UnsafeRegister(static s => ((Socket)s!).Dispose(), socket);
        Stream? stream = null;
        try
        {
            try
            {
                await (proxyUrl is null ? ConnectAsync(socket, host, port) : ConnectAsync(socket, proxyUrl.IdnHost, proxyUrl.Port)).ConfigureAwait(false);
                stream = new NetworkStream(socket, ownsSocket: true);
                if (proxyUrl is not null)
                {
                    await TunnelAsync(stream, proxy, proxyUrl, host, port).ConfigureAwait(false);
                }

                if (IsSecure(url))
                {
                    stream = await AuthenticateAsync(stream, host, acceptAnyCertificate).ConfigureAwait(false);
                }

                var key = WebSocketUpgrade.CreateKey();
                await WriteAsync(stream, Request(url, headers, key, subProtocols, compression)).ConfigureAwait(false);
                var (head, rest) = await ReadHeadAsync(stream).ConfigureAwait(false);
                if (head.Status != 101)
                {
                    throw ConnectException.Refused(head.Status, head.Location);
                }

                var (subProtocol, deflate) = WebSocketUpgrade.Check(head.Answer, key, subProtocols, compression);

                // Waits for a callback already running: after this, the socket is closed only if the token says so.
                await abort.DisposeAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();

                // Frames the server sent right behind its answer are read first.
                return (rest is null ? stream : new PrefixedStream(stream, rest), subProtocol, deflate);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                // The token closed the socket under the call: a timeout or a stop, not a network failure.
                throw new OperationCanceledException(ex.Message, ex, cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or HttpIOException or IOException)
            {
                throw ConnectException.From(ex);
            }
        }
        catch
        {
            await abort.DisposeAsync().ConfigureAwait(false);
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            throw;
        }
    }

    private static bool IsSecure(Uri url) => url.Scheme == Uri.UriSchemeWss || url.Scheme == Uri.UriSchemeHttps;

    private static async Task ConnectAsync(Socket socket, string host, int port)
    {
        try
        {
            EndPoint endPoint = IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
            await socket.ConnectAsync(endPoint).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, string.Create(CultureInfo.InvariantCulture, $"{ex.Message} ({host}:{port})"), ex);
        }
    }

    /// <summary>An HTTP CONNECT tunnel to <paramref name="host"/>:<paramref name="port"/> through the proxy, with Basic credentials if it has some.</summary>
    private static async Task TunnelAsync(Stream stream, IWebProxy? proxy, Uri proxyUrl, string host, int port)
    {
        var authority = string.Create(CultureInfo.InvariantCulture, $"{(host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host)}:{port}");
        var request = new StringBuilder().Append("CONNECT ").Append(authority).Append(" HTTP/1.1\r\nHost: ").Append(authority).Append("\r\n");
        if (proxy?.Credentials?.GetCredential(proxyUrl, "Basic") is { } credential)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes(credential.UserName + ":" + credential.Password));
            request.Append("Proxy-Authorization: Basic ").Append(token).Append("\r\n");
        }

        await WriteAsync(stream, request.Append("\r\n")).ConfigureAwait(false);
        var (head, rest) = await ReadHeadAsync(stream).ConfigureAwait(false);
        var shown = new UriBuilder(proxyUrl) { UserName = string.Empty, Password = string.Empty }.Uri;
        if (head.Status is < 200 or > 299)
        {
            throw new HttpRequestException(HttpRequestError.ProxyTunnelError, string.Create(CultureInfo.InvariantCulture, $"The proxy tunnel request to proxy '{shown}' failed with status code '{head.Status}'."));
        }

        if (rest is not null)
        {
            throw new HttpRequestException(HttpRequestError.ProxyTunnelError, $"The proxy '{shown}' sent data before the tunnel was used.");
        }
    }

    private static async Task<Stream> AuthenticateAsync(Stream stream, string host, bool acceptAnyCertificate)
    {
        // Owns the socket's stream from here: a failure disposes both.
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            // As SocketsHttpHandler's HTTP/1.1 connections: SNI from the URL's host, ALPN http/1.1, no revocation check.
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    ApplicationProtocols = s_http11,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    RemoteCertificateValidationCallback = acceptAnyCertificate ? s_acceptAny : null,
                },
                CancellationToken.None).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established, see inner exception.", ex);
        }
    }

    /// <summary>The upgrade request (RFC 6455 4.1), with the trace context of the current span unless the headers carry one.</summary>
    private static StringBuilder Request(Uri url, IReadOnlyDictionary<string, string> headers, string key, IReadOnlyList<string> subProtocols, bool compression)
    {
        var request = new StringBuilder(256).Append("GET ").Append(url.PathAndQuery).Append(" HTTP/1.1\r\n");
        if (!headers.ContainsKey("Host"))
        {
            var host = url.HostNameType == UriHostNameType.IPv6 ? "[" + url.IdnHost + "]" : url.IdnHost;
            request.Append("Host: ").Append(host);
            if (!url.IsDefaultPort)
            {
                request.Append(':').Append(url.Port);
            }

            request.Append("\r\n");
        }

        request.Append("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ").Append(key).Append("\r\n");
        if (subProtocols.Count > 0)
        {
            request.Append("Sec-WebSocket-Protocol: ").AppendJoin(", ", subProtocols).Append("\r\n");
        }

        if (compression)
        {
            request.Append("Sec-WebSocket-Extensions: ").Append(DeflateParameters.Offer).Append("\r\n");
        }

        foreach (var (name, value) in headers)
        {
            // Configuration validation and the connect hook's checks keep line breaks out of names and values.
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        // What HttpClient's diagnostics handler did for the upgrade request: the connect span's context goes upstream.
        if (Activity.Current is { } span && !headers.ContainsKey("traceparent") && !headers.ContainsKey("Request-Id"))
        {
            DistributedContextPropagator.Current.Inject(span, request, static (carrier, name, value) =>
            {
                if (carrier is StringBuilder builder && !string.IsNullOrEmpty(value))
                {
                    builder.Append(name).Append(": ").Append(value).Append("\r\n");
                }
            });
        }

        return request.Append("\r\n");
    }

    private static async ValueTask WriteAsync(Stream stream, StringBuilder text)
    {
        var value = text.ToString();
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(value.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(value, buffer);
            await stream.WriteAsync(buffer.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads one response head; bytes read past its end (the server's first frames) come back as <c>Extra</c>.</summary>
    private static async Task<(ResponseHead Head, byte[]? Extra)> ReadHeadAsync(Stream stream)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(FirstReadSize);
        var length = 0;
        var statusChecked = false;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length >= MaxHeadLength)
                    {
                        throw new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, string.Create(CultureInfo.InvariantCulture, $"The HTTP response headers length exceeded the set limit of {MaxHeadLength} bytes."));
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length)).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
                }

                var from = Math.Max(0, length - 3);
                length += read;
                if (!statusChecked && buffer.AsSpan(0, length).IndexOf("\r\n"u8) is var lineEnd and >= 0)
                {
                    // Fail on a server that is no HTTP server at once, not at ConnectTimeout.
                    ResponseHead.ParseStatus(buffer.AsSpan(0, lineEnd));
                    statusChecked = true;
                }

                if (buffer.AsSpan(from, length - from).IndexOf("\r\n\r\n"u8) is var end and >= 0)
                {
                    var headLength = from + end + 4;
                    var head = ResponseHead.Parse(buffer.AsSpan(0, headLength));
                    return (head, headLength < length ? buffer.AsSpan(headLength, length - headLength).ToArray() : null);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
