using System.Net.WebSockets;
using Gateway.Host.Health;

namespace Gateway.Host.Sockets;

/// <summary>The stop, in the order of DESIGN.md "Shutdown".</summary>
internal sealed partial class SocketConnection
{
    /// <summary>
    /// Stops in the order that loses nothing: no more reconnects, no more deliveries (messages read
    /// from now on end Lost, control traffic still flows), the queued frames handled while the socket
    /// is still open (so their acknowledgements reach the server), the protocol's goodbye, close 1001,
    /// and what was not handled reported. All within <paramref name="timeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        var started = _time.GetTimestamp();

        // Before the state shows Stopping: nothing read from then on reaches the handlers.
        _delivering = false;
        SetState(SocketState.Stopping, 0);
        await _stopping.CancelAsync().ConfigureAwait(false);
        CancelWait();
        Volatile.Read(ref _live)?.Session.StopDelivering();

        // The drain gets most of the budget; the goodbye and the close handshake keep the rest.
        var closeReserve = TimeSpan.FromTicks(Math.Min(timeout.Ticks / 3, s_closeHandshakeTimeout.Ticks));
        await Dispatcher.DrainAsync(Remaining(timeout - closeReserve, started)).ConfigureAwait(false);

        if (Volatile.Read(ref _live) is { } open)
        {
            _closedByGateway ??= new DisconnectReason(WebSocketCloseStatus.EndpointUnavailable, "gateway stopping", null, ClosedByGateway: true) { Kind = DisconnectKind.Stopping };
            await open.GoodbyeAsync(Remaining(timeout, started)).ConfigureAwait(false);
            await Outbound.CloseOutputAsync(open.Socket, WebSocketCloseStatus.EndpointUnavailable, "gateway stopping", Remaining(timeout, started)).ConfigureAwait(false);
        }

        try
        {
            await _run.WaitAsync(Remaining(timeout, started), _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The server did not answer the close in time: drop the connection, and stop waiting for queue room.
            await _abort.CancelAsync().ConfigureAwait(false);
            Dispatcher.StopAccepting();
            await _run.ConfigureAwait(false);
        }

        await Dispatcher.CompleteAsync(Remaining(timeout, started), timeout).ConfigureAwait(false);
        Outbound.DropQueued();
        SetState(SocketState.Stopped, 0);

        // Every frame read is accounted for: handled by all handlers, or dropped (counted by reason).
        Log.StopSummary(_logger, Name, Status.FramesReceived, Status.FramesHandled, Status.FramesDropped, Status.HandlerErrors);
        _abort.Dispose();
        _stopping.Dispose();
    }

    private TimeSpan Remaining(TimeSpan timeout, long start)
    {
        var left = timeout - _time.GetElapsedTime(start);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
