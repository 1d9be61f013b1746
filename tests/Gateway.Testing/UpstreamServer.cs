using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.Testing;

/// <summary>
/// A real WebSocket server on 127.0.0.1 (Kestrel), scripted per connection. Each accepted
/// connection becomes an <see cref="UpstreamSession"/> that records what the client sends and
/// answers the close handshake; the script decides what the server sends and when it closes.
/// </summary>
public sealed class UpstreamServer : IAsyncDisposable
{
    private readonly Func<UpstreamSession, Task> _script;
    private readonly X509Certificate2? _certificate;
    private WebApplication? _app;
    private int _connectionCount;

    private UpstreamServer(Func<UpstreamSession, Task> script, X509Certificate2? certificate)
    {
        _script = script;
        _certificate = certificate;
    }

    public int Port { get; private set; }

    /// <summary>Connections accepted so far (across restarts).</summary>
    /// <summary>Sessions accepted so far; counted when <see cref="LastSession"/> already shows the newest.</summary>
    public int ConnectionCount => Sessions.Count;

    public ConcurrentQueue<UpstreamSession> Sessions { get; } = new();

    /// <summary>When it returns a status code, the handshake is refused with it.</summary>
    public Func<HttpContext, int?>? RejectHandshake { get; set; }

    /// <summary>Accept permessage-deflate when the client offers it (<see cref="WebSocketAcceptContext.DangerousEnableCompression"/>).</summary>
    public bool Compression { get; set; }

    /// <summary>The <c>Sec-WebSocket-Extensions</c> the server answered each accepted handshake with ("" for none), in order.</summary>
    public ConcurrentQueue<string> AcceptedExtensions { get; } = new();

    /// <summary>Request headers of every handshake, in order.</summary>
    public ConcurrentQueue<IHeaderDictionary> HandshakeHeaders { get; } = new();

    public Uri Url(string path = "/ws") => new($"{(_certificate is null ? "ws" : "wss")}://127.0.0.1:{Port}{path}");

    public UpstreamSession? LastSession => Sessions.LastOrDefault();

    /// <param name="script">What the server does on each accepted connection.</param>
    /// <param name="port">0 for any free port.</param>
    /// <param name="certificate">Serve wss:// with this certificate.</param>
    public static async Task<UpstreamServer> StartAsync(Func<UpstreamSession, Task> script, int port = 0, X509Certificate2? certificate = null)
    {
        var server = new UpstreamServer(script, certificate);
        await server.StartCoreAsync(port);
        return server;
    }

    /// <summary>A server that accepts and then only listens.</summary>
    public static Task<UpstreamServer> StartIdleAsync() => StartAsync(_ => Task.CompletedTask);

    /// <summary>Stops the server; open connections are dropped without a close handshake.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            foreach (var session in Sessions)
            {
                session.Abort();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await app.StopAsync(timeout.Token);
            await app.DisposeAsync();
        }
    }

    /// <summary>Starts again on the same port.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartCoreAsync(Port);
    }

    private async Task StartCoreAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, listen =>
        {
            if (_certificate is not null)
            {
                listen.UseHttps(_certificate);
            }
        }));
        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(HandleAsync);
        await app.StartAsync();
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        // Copied: Kestrel reuses the request's header collection after the request ends.
        HandshakeHeaders.Enqueue(new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase)));
        if (RejectHandshake?.Invoke(context) is { } status)
        {
            context.Response.StatusCode = status;
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var subProtocol = context.WebSockets.WebSocketRequestedProtocols.FirstOrDefault();
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = subProtocol, DangerousEnableCompression = Compression });
        AcceptedExtensions.Enqueue(context.Response.Headers["Sec-WebSocket-Extensions"].ToString());
        var session = new UpstreamSession(socket, context, Interlocked.Increment(ref _connectionCount));
        Sessions.Enqueue(session);
        var pump = session.PumpAsync();
        try
        {
            await _script(session);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }

        await pump;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>One accepted connection on an <see cref="UpstreamServer"/>.</summary>
public sealed class UpstreamSession(WebSocket socket, HttpContext context, int number)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<(WebSocketMessageType Type, byte[] Data)> _messages = Channel.CreateUnbounded<(WebSocketMessageType Type, byte[] Data)>();

    public WebSocket Socket { get; } = socket;

    public HttpContext Context { get; } = context;

    /// <summary>1 for the first connection the server accepted, and so on.</summary>
    public int Number { get; } = number;

    /// <summary>Messages the client sent, in order.</summary>
    public ConcurrentQueue<(WebSocketMessageType Type, byte[] Data)> Received { get; } = new();

    /// <summary>The messages of <see cref="Received"/> again, for a script that answers them as they arrive; completes when the connection ended.</summary>
    public ChannelReader<(WebSocketMessageType Type, byte[] Data)> Messages => _messages.Reader;

    /// <summary>The close code the client sent, once it did.</summary>
    public WebSocketCloseStatus? ClientCloseStatus { get; private set; }

    /// <summary>When the client's close frame arrived (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>), once it did.</summary>
    public long? ClientCloseTimestamp { get; private set; }

    /// <summary>Completes when the connection ended, however it ended.</summary>
    public Task Closed => _closed.Task;

    public Task SendTextAsync(string text) => SendAsync(System.Text.Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public async Task SendAsync(byte[] data, WebSocketMessageType type, bool endOfMessage = true)
    {
        await _sendLock.WaitAsync();
        try
        {
            await Socket.SendAsync(data, type, endOfMessage, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends one message split into WebSocket fragments of <paramref name="fragmentSize"/> bytes.</summary>
    public async Task SendFragmentedAsync(byte[] data, WebSocketMessageType type, int fragmentSize)
    {
        await _sendLock.WaitAsync();
        try
        {
            for (var offset = 0; offset < data.Length; offset += fragmentSize)
            {
                var length = Math.Min(fragmentSize, data.Length - offset);
                await Socket.SendAsync(data.AsMemory(offset, length), type, offset + length >= data.Length, CancellationToken.None);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Starts the close handshake with <paramref name="status"/>; the pump completes it.</summary>
    public async Task CloseAsync(WebSocketCloseStatus status, string description = "")
    {
        await _sendLock.WaitAsync();
        try
        {
            await Socket.CloseOutputAsync(status, description, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }

        await Closed.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Drops the TCP connection with no close frame.</summary>
    public void Abort()
    {
        if (!Closed.IsCompleted)
        {
            try
            {
                Context.Abort();
            }
            catch (ObjectDisposedException)
            {
                // The request already ended.
            }
        }

        _closed.TrySetResult();
    }

    internal async Task PumpAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ClientCloseTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
                    ClientCloseStatus = Socket.CloseStatus;
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        await _sendLock.WaitAsync();
                        try
                        {
                            await Socket.CloseOutputAsync(Socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, string.Empty, CancellationToken.None);
                        }
                        finally
                        {
                            _sendLock.Release();
                        }
                    }

                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    var data = message.ToArray();
                    Received.Enqueue((result.MessageType, data));
                    _messages.Writer.TryWrite((result.MessageType, data));
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            _messages.Writer.TryComplete();
            _closed.TrySetResult();
        }
    }
}
