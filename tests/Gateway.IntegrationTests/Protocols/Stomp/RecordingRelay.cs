using System.Net;
using System.Net.Sockets;

namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>
/// A TCP relay on 127.0.0.1:0 to one upstream that keeps the first bytes the upstream sent on each connection,
/// so a test can read the server's 101 response and its first frames as they were on the wire.
/// </summary>
internal sealed class RecordingRelay : IAsyncDisposable
{
    private const int Kept = 64 * 1024;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly IPEndPoint _upstream;
    private readonly List<MemoryStream> _fromUpstream = [];
    private readonly Task _accepting;

    public RecordingRelay(Uri upstream)
    {
        _upstream = new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The first 64 KiB the upstream sent on each connection so far.</summary>
    public IReadOnlyList<byte[]> FromUpstream
    {
        get
        {
            lock (_fromUpstream)
            {
                return [.. _fromUpstream.Select(m => m.ToArray())];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var recorded = new MemoryStream();
                lock (_fromUpstream)
                {
                    _fromUpstream.Add(recorded);
                }

                _ = Task.Run(() => RelayAsync(client, recorded));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(TcpClient client, MemoryStream recorded)
    {
        using var _ = client;
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_upstream, _stop.Token);
            await Task.WhenAny(
                CopyAsync(client.GetStream(), upstream.GetStream(), null),
                CopyAsync(upstream.GetStream(), client.GetStream(), recorded));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    private async Task CopyAsync(Stream from, Stream to, MemoryStream? recorded)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (recorded is not null)
                {
                    lock (_fromUpstream)
                    {
                        recorded.Write(buffer, 0, (int)Math.Min(read, Math.Max(0, Kept - recorded.Length)));
                    }
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }
}
