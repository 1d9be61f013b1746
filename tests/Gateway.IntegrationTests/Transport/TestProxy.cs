using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.IntegrationTests.Transport;

/// <summary>
/// A minimal HTTP proxy on 127.0.0.1: tunnels CONNECT requests and forwards absolute-form requests,
/// recording each request line, so a test can see that traffic went through it.
/// </summary>
internal sealed class TestProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public TestProxy()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public ConcurrentQueue<string> RequestLines { get; } = new();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(() => ServeAsync(client));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var head = await ReadHeadAsync(stream);
        var lines = head.Split("\r\n");
        var parts = lines[0].Split(' ');
        RequestLines.Enqueue(lines[0]);
        using var upstream = new TcpClient();
        if (parts[0] == "CONNECT")
        {
            var target = parts[1].Split(':');
            await upstream.ConnectAsync(target[0], int.Parse(target[1], System.Globalization.CultureInfo.InvariantCulture), _stop.Token);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 Connection established\r\n\r\n"), _stop.Token);
        }
        else
        {
            var target = new Uri(parts[1]);
            await upstream.ConnectAsync(target.Host, target.Port, _stop.Token);
            lines[0] = $"{parts[0]} {target.PathAndQuery} {parts[2]}";
            await upstream.GetStream().WriteAsync(Encoding.ASCII.GetBytes(string.Join("\r\n", lines)), _stop.Token);
        }

        var server = upstream.GetStream();
        var up = stream.CopyToAsync(server, _stop.Token);
        var down = server.CopyToAsync(stream, _stop.Token);
        try
        {
            await Task.WhenAny(up, down);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
        {
        }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one) == 1)
        {
            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
