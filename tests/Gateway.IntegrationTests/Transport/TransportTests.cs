using System.Net;
using System.Net.Sockets;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Transport;

/// <summary>TLS validation, its explicit opt-out, and the connect timeout, over real sockets.</summary>
public sealed class TransportTests
{
    [Fact]
    public async Task Connect_UntrustedCertificate_RefusedByDefault()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("secret"), certificate: certificate);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url()));

        await Eventually.TrueAsync(() => gateway.Status("a").LastError is not null, "the connect failed");
        Assert.Equal(0, server.ConnectionCount);
        Assert.Empty(gateway.Recorder.Frames);
        Assert.NotEqual(SocketState.Ready, gateway.Status("a").State);
    }

    [Fact]
    public async Task Connect_UntrustedCertificateWithExplicitOptOut_ConnectsAndWarns()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("over tls"), certificate: certificate);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", server.Url(), ("DangerousAcceptAnyServerCertificate", "true")));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the frame arrived over wss");
        Assert.Equal("over tls", gateway.Recorder.Frames.Single().Text);
        Assert.Single(gateway.Logs.WithEventId(110));
    }

    [Fact]
    public async Task Connect_ServerNeverAnswersHandshake_TimesOutAndRetries()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    accepted.Add(await listener.AcceptSocketAsync());
                }
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        });
        var url = new Uri($"ws://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        await using (var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", url, ("ConnectTimeout", "00:00:00.300"))))
        {
            await Eventually.TrueAsync(() => gateway.Logs.WithEventId(102).Count >= 2, "two attempts timed out");
            Assert.Contains("ConnectTimeout", gateway.Status("a").LastError, StringComparison.Ordinal);
        }

        listener.Stop();
        await accepting;
        accepted.ForEach(s => s.Dispose());
    }
}
