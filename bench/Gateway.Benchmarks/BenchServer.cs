using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Benchmarks;

/// <summary>
/// Kestrel on 127.0.0.1 that accepts WebSocket upgrades itself (no <c>UseWebSockets</c>) and then
/// either floods pre-encoded frames (<c>/flood/{session}</c>) or stays idle (<c>/idle</c>). In both
/// cases it answers pings with pongs and a client close with a close.
/// </summary>
internal sealed class BenchServer : IFloodServer
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<int, FloodSession> _sessions = new();
    private readonly ConcurrentDictionary<(int PayloadSize, bool Binary), FrameChunk> _chunks = new();
    private readonly TimeSpan _connectionLifetime;
    private int _nextSession;
    private int _connections;

    private BenchServer(WebApplication app, LogTally logs, TimeSpan connectionLifetime)
    {
        _app = app;
        Logs = logs;
        _connectionLifetime = connectionLifetime;
    }

    public int Port { get; private set; }

    public LogTally Logs { get; }

    /// <summary>WebSocket connections currently open.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public Uri IdleUrl => new($"ws://127.0.0.1:{Port}/idle");

    public static async Task<BenchServer> StartAsync(int port, TimeSpan connectionLifetime)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        var logs = new LogTally("server");
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port);
        });

        // The kernel caps this at net.core.somaxconn; it matters when 10,000 sockets connect at once.
        builder.Services.Configure<SocketTransportOptions>(o => o.Backlog = 16 * 1024);
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        var app = builder.Build();
        var server = new BenchServer(app, logs, connectionLifetime);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Port = new Uri(address).Port;
        return server;
    }

    /// <summary>A flood whose connections each send <paramref name="framesPerConnection"/>[p] frames once phase p is released.</summary>
    public FloodSession CreateSession(FrameChunk chunk, long[] framesPerConnection, double pace = 0)
    {
        var session = new FloodSession(Interlocked.Increment(ref _nextSession), chunk, framesPerConnection) { Pace = pace };
        _sessions[session.Id] = session;
        return session;
    }

    public Uri FloodUrl(FloodSession session) => new($"ws://127.0.0.1:{Port}/flood/{session.Id}");

    public Task<FloodHandle> CreateSessionAsync(int payloadSize, bool binary, long[] framesPerConnection, double pace = 0)
    {
        var chunk = _chunks.GetOrAdd((payloadSize, binary), key => new FrameChunk(key.PayloadSize, key.Binary));
        var session = CreateSession(chunk, framesPerConnection, pace);
        return Task.FromResult(new FloodHandle(session.Id, FloodUrl(session), framesPerConnection));
    }

    public void Go(FloodHandle session, int phase)
    {
        if (_sessions.TryGetValue(session.Id, out var flood))
        {
            flood.Go(phase);
        }
    }

    public Task<int> ConnectedAsync(FloodHandle session) => Task.FromResult(_sessions.TryGetValue(session.Id, out var flood) ? flood.Connected : 0);

    public Task RemoveSessionAsync(FloodHandle session)
    {
        if (_sessions.TryGetValue(session.Id, out var flood))
        {
            RemoveSession(flood);
        }

        return Task.CompletedTask;
    }

    public Task<string> TakeLogSummaryAsync() => Task.FromResult(Logs.TakeSummary());

    public void RemoveSession(FloodSession session)
    {
        _sessions.TryRemove(session.Id, out _);
        session.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _sessions.Values)
        {
            session.Abort();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        FloodSession? session = null;
        if (path.StartsWith("/flood/", StringComparison.Ordinal))
        {
            if (!int.TryParse(path.AsSpan("/flood/".Length), out var id) || !_sessions.TryGetValue(id, out session))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
        }
        else if (path != "/idle")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var headers = context.Request.Headers;
        var key = headers.SecWebSocketKey.ToString();
        if (upgrade is not { IsUpgradableRequest: true }
            || !HttpMethods.IsGet(context.Request.Method)
            || !headers.Connection.ToString().Contains("upgrade", StringComparison.OrdinalIgnoreCase)
            || !string.Equals(headers.Upgrade.ToString(), "websocket", StringComparison.OrdinalIgnoreCase)
            || headers.SecWebSocketVersion.ToString() != "13"
            || key.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = "websocket";
        context.Response.Headers.SecWebSocketAccept = WebSocketWire.ComputeAccept(key);
        var stream = await upgrade.UpgradeAsync().ConfigureAwait(false); // sends the 101
        Interlocked.Increment(ref _connections);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        lifetime.CancelAfter(_connectionLifetime);
        using var writeLock = new SemaphoreSlim(1, 1);
        var flood = Task.CompletedTask;
        if (session is not null)
        {
            session.OnConnected();
            flood = FloodAsync(stream, writeLock, session, lifetime.Token);
        }

        try
        {
            await ReadClientAsync(stream, writeLock, lifetime.Token).ConfigureAwait(false);
        }
        finally
        {
            await lifetime.CancelAsync().ConfigureAwait(false);
            await flood.ConfigureAwait(false);
            Interlocked.Decrement(ref _connections);
        }
    }

    /// <summary>Sends each phase's frames as fast as the connection takes them, in writes of whole pre-encoded chunks.</summary>
    private static async Task FloodAsync(Stream stream, SemaphoreSlim writeLock, FloodSession session, CancellationToken token)
    {
        var chunk = session.Chunk;
        try
        {
            for (var phase = 0; phase < session.Phases; phase++)
            {
                await session.WaitForGoAsync(phase, token).ConfigureAwait(false);
                var left = session.FramesPerConnection[phase];
                var started = Stopwatch.GetTimestamp();
                var sent = 0L;
                while (left > 0)
                {
                    var frames = (int)Math.Min(left, chunk.Frames);
                    if (session.Pace > 0)
                    {
                        // Paced: what is due by now, checked about every millisecond.
                        var due = (long)(Stopwatch.GetElapsedTime(started).TotalSeconds * session.Pace) - sent;
                        if (due <= 0)
                        {
                            await Task.Delay(1, token).ConfigureAwait(false);
                            continue;
                        }

                        frames = (int)Math.Min(frames, due);
                        sent += frames;
                    }

                    await writeLock.WaitAsync(token).ConfigureAwait(false);
                    try
                    {
                        await stream.WriteAsync(chunk.Bytes.AsMemory(0, frames * chunk.FrameLength), token).ConfigureAwait(false);
                    }
                    finally
                    {
                        writeLock.Release();
                    }

                    left -= frames;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Connection gone, session aborted or lifetime over.
        }
    }

    /// <summary>Reads (masked) client frames: answers ping with pong and close with close, ignores the rest.</summary>
    private static async Task ReadClientAsync(Stream stream, SemaphoreSlim writeLock, CancellationToken token)
    {
        var header = new byte[14];
        var control = new byte[2 + 125];
        byte[]? discard = null;
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(header.AsMemory(0, 2), token).ConfigureAwait(false);
                var opcode = header[0] & 0x0F;
                var masked = (header[1] & 0x80) != 0;
                long length = header[1] & 0x7F;
                if (length == 126)
                {
                    await stream.ReadExactlyAsync(header.AsMemory(2, 2), token).ConfigureAwait(false);
                    length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                }
                else if (length == 127)
                {
                    await stream.ReadExactlyAsync(header.AsMemory(2, 8), token).ConfigureAwait(false);
                    length = (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(2));
                }

                if (masked)
                {
                    await stream.ReadExactlyAsync(header.AsMemory(10, 4), token).ConfigureAwait(false);
                }

                if (opcode < WebSocketWire.OpClose)
                {
                    // Data frames from the client are not part of this benchmark: skip them.
                    discard ??= new byte[4096];
                    while (length > 0)
                    {
                        var read = await stream.ReadAsync(discard.AsMemory(0, (int)Math.Min(length, discard.Length)), token).ConfigureAwait(false);
                        if (read == 0)
                        {
                            return;
                        }

                        length -= read;
                    }

                    continue;
                }

                if (length > 125)
                {
                    return; // protocol error: drop the connection
                }

                var payload = control.AsMemory(2, (int)length);
                await stream.ReadExactlyAsync(payload, token).ConfigureAwait(false);
                if (masked)
                {
                    var span = payload.Span;
                    for (var i = 0; i < span.Length; i++)
                    {
                        span[i] ^= header[10 + (i & 3)];
                    }
                }

                if (opcode == WebSocketWire.OpPing)
                {
                    control[0] = 0x80 | WebSocketWire.OpPong;
                    control[1] = (byte)length;
                    await WriteLockedAsync(stream, writeLock, control.AsMemory(0, 2 + (int)length), token).ConfigureAwait(false);
                }
                else if (opcode == WebSocketWire.OpClose)
                {
                    // Echo the status code (or an empty close), then end the connection.
                    control[0] = 0x80 | WebSocketWire.OpClose;
                    control[1] = (byte)Math.Min(length, 2);
                    await WriteLockedAsync(stream, writeLock, control.AsMemory(0, 2 + control[1]), token).ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away, or the server is stopping.
        }
    }

    private static async Task WriteLockedAsync(Stream stream, SemaphoreSlim writeLock, ReadOnlyMemory<byte> bytes, CancellationToken token)
    {
        await writeLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(bytes, token).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }
}

/// <summary>One flood: every connection to it sends, per phase, a bounded number of frames once that phase is released.</summary>
internal sealed class FloodSession
{
    private readonly TaskCompletionSource[] _go;
    private int _connected;

    public FloodSession(int id, FrameChunk chunk, long[] framesPerConnection)
    {
        Id = id;
        Chunk = chunk;
        FramesPerConnection = framesPerConnection;
        _go = new TaskCompletionSource[framesPerConnection.Length];
        for (var i = 0; i < _go.Length; i++)
        {
            _go[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public int Id { get; }

    /// <summary>Frames per second per connection; 0: as fast as the connection takes them.</summary>
    public double Pace { get; init; }

    public FrameChunk Chunk { get; }

    public IReadOnlyList<long> FramesPerConnection { get; }

    public int Phases => _go.Length;

    /// <summary>Upgraded connections so far.</summary>
    public int Connected => Volatile.Read(ref _connected);

    public void OnConnected() => Interlocked.Increment(ref _connected);

    public Task WaitForGoAsync(int phase, CancellationToken token) => _go[phase].Task.WaitAsync(token);

    /// <summary>Releases phase <paramref name="phase"/> on every connection.</summary>
    public void Go(int phase) => _go[phase].TrySetResult();

    public void Abort()
    {
        foreach (var go in _go)
        {
            go.TrySetCanceled();
        }
    }
}
