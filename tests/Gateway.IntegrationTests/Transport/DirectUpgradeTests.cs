using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Transport;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Transport;

/// <summary>
/// The hand-made upgrade (<see cref="DirectUpgrade"/>) against Kestrel, a raw TCP peer and an HTTP proxy on
/// 127.0.0.1: headers, subprotocol, trace context, TLS, CONNECT tunnels, and every way a handshake is refused.
/// </summary>
public sealed class DirectUpgradeTests
{
    private static readonly Dictionary<string, string> s_noHeaders = [];

    private static Task<(Stream Stream, string? SubProtocol, DeflateParameters? Deflate)> UpgradeAsync(
        Uri url, IReadOnlyDictionary<string, string>? headers = null, IReadOnlyList<string>? subProtocols = null, bool compression = false, bool acceptAnyCertificate = false, IWebProxy? proxy = null)
    {
        var proxyUrl = proxy is null ? null : DirectUpgrade.ProxyFor(proxy, url);
        return DirectUpgrade.UpgradeAsync(url, proxy, proxyUrl, headers ?? s_noHeaders, subProtocols ?? [], compression, acceptAnyCertificate, TestContext.Current.CancellationToken);
    }

    private static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        var buffer = new byte[256];
        var result = await socket.ReceiveAsync(buffer, TestContext.Current.CancellationToken);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    [Fact]
    public async Task Upgrade_Kestrel_SendsHeadersSubProtocolsAndTraceContext()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("hello"));
        using var source = new ActivitySource("DirectUpgradeTests");
        using var listener = new ActivityListener { ShouldListenTo = s => s == source, Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded };
        ActivitySource.AddActivityListener(listener);
        using var span = source.StartActivity("connect");

        var (stream, subProtocol, deflate) = await UpgradeAsync(server.Url(), new Dictionary<string, string> { ["X-Api-Key"] = "k1", ["Authorization"] = "Bearer t" }, ["v2.stomp", "v1.stomp"]);
        using var socket = new GatewayWebSocket(stream, subProtocol, deflate);

        Assert.Equal("hello", await ReceiveTextAsync(socket));
        Assert.Equal("v2.stomp", subProtocol);
        Assert.Null(deflate);
        var headers = server.HandshakeHeaders.Single();
        Assert.Equal("k1", headers["X-Api-Key"].ToString());
        Assert.Equal("Bearer t", headers["Authorization"].ToString());
        Assert.Equal($"127.0.0.1:{server.Port}", headers["Host"].ToString());
        Assert.Equal("v2.stomp, v1.stomp", headers["Sec-WebSocket-Protocol"].ToString());
        Assert.False(headers.ContainsKey("Sec-WebSocket-Extensions"));
        Assert.Contains(span!.TraceId.ToHexString(), headers["traceparent"].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upgrade_Compression_OffersDeflateAndReturnsWhatKestrelAccepted()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("squeezed"));
        server.Compression = true;

        var (stream, subProtocol, deflate) = await UpgradeAsync(server.Url(), compression: true);
        using var socket = new GatewayWebSocket(stream, subProtocol, deflate);

        Assert.Equal(DeflateParameters.Offer, server.HandshakeHeaders.Single()["Sec-WebSocket-Extensions"].ToString());
        Assert.NotNull(deflate);
        Assert.Equal("squeezed", await ReceiveTextAsync(socket));
    }

    [Fact]
    public async Task Upgrade_FramesRightBehindThe101_AreReadFirst()
    {
        await using var peer = RawPeer.Start(async s =>
        {
            var request = await s.ReadRequestAsync();
            var answer = Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WsFrame.AcceptFor(request["Sec-WebSocket-Key"]!)}\r\n\r\n");
            await s.WriteRawAsync(answer.Concat(WsFrame.TextFrame("early")).Concat(WsFrame.TextFrame("bird")).ToArray());
            await s.StayOpenAsync();
        });

        var (stream, subProtocol, deflate) = await UpgradeAsync(peer.Url());
        using var socket = new GatewayWebSocket(stream, subProtocol, deflate);

        Assert.Equal("early", await ReceiveTextAsync(socket));
        Assert.Equal("bird", await ReceiveTextAsync(socket));
    }

    [Fact]
    public async Task Upgrade_Wss_ValidatesTheCertificateUnlessToldNotTo()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("over tls"), certificate: certificate);

        var refused = await Assert.ThrowsAsync<ConnectException>(() => UpgradeAsync(server.Url()));
        Assert.StartsWith("The SSL connection could not be established: ", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.ConnectionCount);

        var (stream, subProtocol, deflate) = await UpgradeAsync(server.Url(), acceptAnyCertificate: true);
        using var socket = new GatewayWebSocket(stream, subProtocol, deflate);
        Assert.Equal("over tls", await ReceiveTextAsync(socket));
    }

    [Theory]
    [InlineData("ws")]
    [InlineData("wss")]
    public async Task Upgrade_ThroughHttpProxy_TunnelsWithConnect(string scheme)
    {
        using var certificate = scheme == "wss" ? TestCertificates.CreateSelfSigned() : null;
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("tunnelled"), certificate: certificate);
        await using var proxy = new TestProxy();
        var webProxy = new WebProxy(proxy.Url);

        Assert.Equal(proxy.Url, DirectUpgrade.ProxyFor(webProxy, server.Url()));
        var (stream, subProtocol, deflate) = await UpgradeAsync(server.Url(), acceptAnyCertificate: true, proxy: webProxy);
        using var socket = new GatewayWebSocket(stream, subProtocol, deflate);

        Assert.Equal("tunnelled", await ReceiveTextAsync(socket));
        Assert.Equal([$"CONNECT 127.0.0.1:{server.Port} HTTP/1.1"], proxy.RequestLines);
    }

    [Fact]
    public async Task Upgrade_ProxyRefusesTunnel_FailsWithItsStatusAndSentBasicCredentials()
    {
        var tunnelRequest = new TaskCompletionSource<RawRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var proxyPeer = RawPeer.Start(async s =>
        {
            tunnelRequest.TrySetResult(await s.ReadRequestAsync());
            await s.WriteRawAsync("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
        });
        var webProxy = new WebProxy(new Uri($"http://127.0.0.1:{proxyPeer.Port}")) { Credentials = new NetworkCredential("user", "p:ss") };

        var failed = await Assert.ThrowsAsync<ConnectException>(() => UpgradeAsync(new Uri("ws://upstream.invalid:8080/feed"), proxy: webProxy));

        Assert.Equal($"The proxy tunnel request to proxy 'http://127.0.0.1:{proxyPeer.Port}/' failed with status code '407'", failed.Message);
        Assert.Null(failed.HttpStatus);
        var request = await tunnelRequest.Task;
        Assert.Equal("CONNECT upstream.invalid:8080 HTTP/1.1", request.RequestLine);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:p:ss")), request["Proxy-Authorization"]);
    }

    /// <summary>The answer, the HTTP status the exception carries (0: none), its error type, and what its message says.</summary>
    public static TheoryData<string, int, string, string> Refusals => new()
    {
        { "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 401, "http_401", "handshake refused with HTTP 401" },
        { "HTTP/1.1 302 Found\r\nLocation: wss://elsewhere.example/ws\r\n\r\n", 302, "http_302", "handshake refused with HTTP 302 (a redirect to wss://elsewhere.example/ws, not followed)" },
        { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 0, "handshake_accept", "handshake failed: Sec-WebSocket-Accept 'dGhlIHNhbXBsZSBub25jZQ==' does not match the key sent" },
        { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {0}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", 0, "handshake_subprotocol", "handshake failed: the server chose subprotocol 'mqtt', which was not offered" },
        { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {0}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 0, "handshake_extension", "handshake failed: the server chose an extension, which was not offered" },
        { "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {0}\r\n\r\n", 0, "handshake_headers", "handshake failed: the 101 answer lacks 'Upgrade: websocket' and 'Connection: Upgrade'" },
        { "SSH-2.0-OpenSSH_9.6\r\n", 0, "HttpRequestException", "Received an invalid status line: 'SSH-2.0-OpenSSH_9.6'" },
        { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", 0, "HttpIOException", "The response ended prematurely. (ResponseEnded)" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Upgrade_BadAnswer_FailsWithStatusAndReason(string answer, int status, string errorType, string message)
    {
        await using var peer = RawPeer.Start(async s =>
        {
            var request = await s.ReadRequestAsync();
            await s.WriteRawAsync(answer.Replace("{0}", WsFrame.AcceptFor(request["Sec-WebSocket-Key"]!), StringComparison.Ordinal));
            s.Close();
        });

        var failed = await Assert.ThrowsAsync<ConnectException>(() => UpgradeAsync(peer.Url(), subProtocols: ["v1.stomp"]));

        Assert.Equal(message, failed.Message);
        Assert.Equal(status == 0 ? null : status, failed.HttpStatus);
        Assert.Equal(errorType, failed.ErrorType);
    }

    [Fact]
    public async Task Upgrade_NothingListening_FailsNamingTheAddress()
    {
        var port = RawPeer.RefusingPort();

        var failed = await Assert.ThrowsAsync<ConnectException>(() => UpgradeAsync(new Uri($"ws://127.0.0.1:{port}/ws")));

        Assert.Equal($"Connection refused (127.0.0.1:{port})", failed.Message);
        Assert.Equal("SocketException", failed.ErrorType);
    }
}
