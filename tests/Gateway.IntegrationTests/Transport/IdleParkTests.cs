using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Gateway.Host.Transport;

namespace Gateway.IntegrationTests.Transport;

/// <summary>
/// An idle socket's park (<see cref="GatewayWebSocket.WaitForDataAsync"/>, then <see cref="GatewayWebSocket.ReadMoreAsync"/>)
/// over a real loopback TCP connection: a wake-up without data parks again instead of leaving a read with a 64 KiB
/// buffer waiting (the runtime's zero-byte read sometimes completes with nothing to read: 30-130 of 10,000 idle
/// sockets held such a buffer).
/// </summary>
public sealed class IdleParkTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadMoreAsync_SpuriousWakeUps_ParksAgainWithoutABufferThenReadsTheFrame()
    {
        await using var pair = await LoopbackPair.ConnectAsync(spuriousWakeUps: 2);
        using var client = new GatewayWebSocket(pair.ClientStream, null);
        var batch = new ReceiveBatch();

        // The receive loop's park wakes at once (the first spurious wake-up); the read parks again, wakes without
        // data once more, then parks for real.
        Assert.Equal(0, await client.WaitForDataAsync());
        Assert.False(client.TakeMessages(batch, 1024));
        var read = client.ReadMoreAsync();
        await Task.Delay(50, Token);
        Assert.False(read.IsCompleted);
        Assert.False(client.HoldsReceiveBuffer);
        Assert.Equal(3, pair.ClientStream.ZeroByteReads);

        await pair.Server.SendAsync(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }, Token);
        await read;
        while (!client.TakeMessages(batch, 1024))
        {
            await client.ReadMoreAsync();
        }

        Assert.Equal(1, batch.Count);
        Assert.Equal(3, pair.ClientStream.ZeroByteReads);
        batch.Clear();
    }

    [Fact]
    public async Task ReadMoreAsync_PeerClosedWhileParked_ReportsTheEnd()
    {
        await using var pair = await LoopbackPair.ConnectAsync(spuriousWakeUps: 0);
        using var client = new GatewayWebSocket(pair.ClientStream, null);

        var park = client.WaitForDataAsync();
        pair.Server.Shutdown(SocketShutdown.Send);
        await park;

        var batch = new ReceiveBatch();
        Assert.False(client.TakeMessages(batch, 1024));
        await Assert.ThrowsAsync<WebSocketException>(async () => await client.ReadMoreAsync());
        Assert.Equal(1, pair.ClientStream.ZeroByteReads);
    }

    [Fact]
    public async Task ReadMoreAsync_DataWaiting_ReadsWithoutParkingAgain()
    {
        await using var pair = await LoopbackPair.ConnectAsync(spuriousWakeUps: 0);
        using var client = new GatewayWebSocket(pair.ClientStream, null);
        await pair.Server.SendAsync(new byte[] { 0x81, 0x01, (byte)'a' }, Token);

        await client.WaitForDataAsync();
        var batch = new ReceiveBatch();
        Assert.False(client.TakeMessages(batch, 1024));
        await client.ReadMoreAsync();

        Assert.True(client.TakeMessages(batch, 1024));
        Assert.Equal(1, pair.ClientStream.ZeroByteReads);
        batch.Clear();
    }

    /// <summary>A connected loopback pair; the client's stream answers its first zero-byte reads at once, with nothing read.</summary>
    private sealed class LoopbackPair : IAsyncDisposable
    {
        private LoopbackPair(Socket server, SpuriousWakeStream clientStream)
        {
            Server = server;
            ClientStream = clientStream;
        }

        public Socket Server { get; }

        public SpuriousWakeStream ClientStream { get; }

        public static async Task<LoopbackPair> ConnectAsync(int spuriousWakeUps)
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!, Token);
            var server = await listener.AcceptAsync(Token);
            return new LoopbackPair(server, new SpuriousWakeStream(client, spuriousWakeUps));
        }

        public async ValueTask DisposeAsync()
        {
            await ClientStream.DisposeAsync();
            Server.Dispose();
        }
    }

    /// <summary>A <see cref="NetworkStream"/> whose first zero-byte reads complete at once without data, as the runtime's sometimes do.</summary>
    private sealed class SpuriousWakeStream(Socket socket, int spuriousWakeUps) : NetworkStream(socket, ownsSocket: true)
    {
        private int _spurious = spuriousWakeUps;

        public int ZeroByteReads { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                ZeroByteReads++;
                if (_spurious > 0)
                {
                    _spurious--;
                    return ValueTask.FromResult(0);
                }
            }

            return base.ReadAsync(buffer, cancellationToken);
        }
    }
}
