using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>Scheme and TLS mismatches: each attempt fails with an error in health, backs off and retries; nothing connects.</summary>
/// <remarks>
/// The untrusted certificate alone is <c>TransportTests.Connect_UntrustedCertificate_RefusedByDefault</c>. The
/// messages asserted here are what .NET gives today; two of them do not mention TLS (docs/reliability.md).
/// </remarks>
public sealed class TlsFaultTests
{
    private static async Task<SocketStatusSnapshot> FailedTwiceAsync(GatewayTestHost gateway)
    {
        await Eventually.TrueAsync(() => gateway.Logs.Gateway(102).Count >= 2 && gateway.Logs.Gateway(104).Count >= 2, "two attempts failed and backed off");
        var status = gateway.Status("a");
        Assert.NotEqual(SocketState.Ready, status.State);
        Assert.Null(status.LastHttpStatus);
        Assert.Empty(gateway.Logs.Gateway(101));
        return status;
    }

    [Fact]
    public async Task Connect_WssToPlainTcpServer_FailsBacksOffAndRetries()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", new Uri($"wss://127.0.0.1:{server.Port}/ws")));

        var status = await FailedTwiceAsync(gateway);

        // The TLS handshake met an HTTP 400 answer: SslStream's words, not "TLS" (the outer "SSL connection could not be established" is lost).
        Assert.Contains("corrupted frame", status.LastError, StringComparison.Ordinal);
        Assert.Equal(0, server.ConnectionCount);
    }

    [Fact]
    public async Task Connect_WsToTlsServer_FailsBacksOffAndRetries()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await UpstreamServer.StartAsync(_ => Task.CompletedTask, certificate: certificate);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", new Uri($"ws://127.0.0.1:{server.Port}/ws")));

        var status = await FailedTwiceAsync(gateway);

        // Kestrel's TLS listener drops a plaintext request: all the client sees is an ended response.
        Assert.Contains("The response ended prematurely", status.LastError, StringComparison.Ordinal);
        Assert.Equal(0, server.ConnectionCount);
    }

    [Fact]
    public async Task Connect_CertificateForAnotherName_FailsNamingTheMismatch()
    {
        using var certificate = TestCertificates.CreateSelfSigned("example.invalid");
        await using var server = await UpstreamServer.StartAsync(_ => Task.CompletedTask, certificate: certificate);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        var status = await FailedTwiceAsync(gateway);

        Assert.Contains("RemoteCertificateNameMismatch", status.LastError, StringComparison.Ordinal);
        Assert.Equal(0, server.ConnectionCount);
    }

    [Fact]
    public async Task Connect_CertificateForAnotherNameWithExplicitOptOut_Connects()
    {
        using var certificate = TestCertificates.CreateSelfSigned("example.invalid");
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("over tls"), certificate: certificate);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("DangerousAcceptAnyServerCertificate", "true")));

        // The same server is reachable: the failure above is the name check, nothing else.
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the frame arrived over wss");
        Assert.Equal("over tls", gateway.Recorder.Frames.Single().Text);
    }
}
