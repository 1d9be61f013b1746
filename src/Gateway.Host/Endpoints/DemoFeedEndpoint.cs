using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace Gateway.Host.Endpoints;

/// <summary>
/// The built-in demo upstream at <c>/demo/ticks</c>: a WebSocket that sends a small JSON tick about
/// once a second, so the default configuration has something to connect to, offline, and echoes each
/// message it receives (up to 64 KiB), so a send through the gateway comes back as a frame.
/// </summary>
internal static class DemoFeedEndpoint
{
    public const string Path = "/demo/ticks";

    private const int MaxEcho = 64 * 1024;

    public static async Task HandleAsync(HttpContext context, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            await context.Response.WriteAsync("Connect with a WebSocket client.", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, lifetime.ApplicationStopping);

        // Ticks and echoes share the socket's one send at a time.
        using var sending = new SemaphoreSlim(1, 1);

        // Read (and so answer pings and the close handshake), echoing, until the client leaves.
        var reading = EchoAsync(socket, sending, cts);
        var price = 100.0;
        var random = new Random();
        try
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
            for (long seq = 1; await timer.WaitForNextTickAsync(stopping.Token).ConfigureAwait(false); seq++)
            {
                price = Math.Round(price * (1 + ((random.NextDouble() - 0.5) / 100)), 2);
                var tick = JsonSerializer.SerializeToUtf8Bytes(new { type = "tick", symbol = "DEMO", seq, price, time = time.GetUtcNow() });
                await SendAsync(socket, sending, tick, WebSocketMessageType.Text, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }

        if (lifetime.ApplicationStopping.IsCancellationRequested && socket.State == WebSocketState.Open)
        {
            // The host is stopping: say goodbye so the client does not wait for the server's shutdown timeout.
            using var closeTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "server stopping", closeTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
            }
        }

        await reading.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await cts.CancelAsync().ConfigureAwait(false);
        await reading.ConfigureAwait(false);
    }

    private static async Task SendAsync(WebSocket socket, SemaphoreSlim sending, ReadOnlyMemory<byte> message, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(message, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            sending.Release();
        }
    }

    private static async Task EchoAsync(WebSocket socket, SemaphoreSlim sending, CancellationTokenSource done)
    {
        var buffer = new byte[MaxEcho];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "the demo echoes at most 64 KiB", done.Token).ConfigureAwait(false);
                        return;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(count), done.Token).ConfigureAwait(false);
                    count += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (socket.State == WebSocketState.CloseReceived)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", done.Token).ConfigureAwait(false);
                    }

                    return;
                }

                await SendAsync(socket, sending, buffer.AsMemory(0, count), result.MessageType, done.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
        }
    }
}
