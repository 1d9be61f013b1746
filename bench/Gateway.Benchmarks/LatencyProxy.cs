using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Gateway.Benchmarks;

/// <summary>
/// A TCP forwarder on 127.0.0.1 that holds every chunk for a fixed one-way delay in each direction,
/// so a sink's server looks a network hop away (loopback answers in tens of microseconds, a server
/// in the same region in about a millisecond). Bytes keep their order; throughput is not limited,
/// only delayed. The delay is a timer's, in whole milliseconds: at least the one asked for and
/// often up to a millisecond more, so the benchmark reports the round trip it measured.
/// </summary>
internal sealed class LatencyProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly TimeSpan _oneWay;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private Task _accepting = Task.CompletedTask;

    private LatencyProxy(IPEndPoint target, TimeSpan oneWay)
    {
        _target = target;
        _oneWay = oneWay;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static LatencyProxy Start(IPEndPoint target, TimeSpan oneWay)
    {
        var proxy = new LatencyProxy(target, oneWay);
        proxy._listener.Start();
        proxy._accepting = proxy.AcceptAsync();
        return proxy;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_tasks)
            {
                _tasks.Add(ConnectAsync(client));
            }
        }
    }

    private async Task ConnectAsync(Socket client)
    {
        using (client)
        using (var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
        {
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync(_target, _stop.Token).ConfigureAwait(false);
                await Task.WhenAll(PipeAsync(client, server), PipeAsync(server, client)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>One direction: each chunk read is written once its delay has passed; a closed side closes the other.</summary>
    private async Task PipeAsync(Socket from, Socket to)
    {
        var chunks = Channel.CreateUnbounded<(long At, byte[] Buffer, int Count)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writing = WriteAsync(chunks.Reader, to);
        try
        {
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }

                chunks.Writer.TryWrite((Stopwatch.GetTimestamp(), buffer, read)); // bounded by the TCP window of the sender
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            chunks.Writer.TryComplete();
        }

        await writing.ConfigureAwait(false);
        try
        {
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task WriteAsync(ChannelReader<(long At, byte[] Buffer, int Count)> chunks, Socket to)
    {
        try
        {
            await foreach (var (at, buffer, count) in chunks.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                var wait = _oneWay - Stopwatch.GetElapsedTime(at);
                if (wait > TimeSpan.Zero)
                {
                    // Whole milliseconds: Task.Delay truncates, so 0.9 ms would not wait at all.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), _stop.Token).ConfigureAwait(false);
                }

                await to.SendAsync(buffer.AsMemory(0, count), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        Task[] tasks;
        lock (_tasks)
        {
            tasks = [.. _tasks];
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        _stop.Dispose();
    }
}
