using System.Net.WebSockets;

namespace Gateway.Host.Sockets;

/// <summary>Control messages ahead of user sends, the close frame, and what is left at the stop.</summary>
internal sealed partial class OutboundPipeline
{
    /// <summary>Writes a control message as soon as the current write is done, ahead of queued user sends.</summary>
    public ValueTask SendControlAsync(WebSocket socket, ReadOnlyMemory<byte> message, FrameKind kind, CancellationToken cancellationToken)
        => new(WriteAsync(socket, message, kind, cancellationToken));

    /// <summary>Fire and forget; false when too many control messages wait (the peer stopped reading).</summary>
    public bool PostControl(WebSocket socket, ReadOnlyMemory<byte> message, FrameKind kind, CancellationToken connectionToken)
    {
        if (Interlocked.Increment(ref _pendingControl) > MaxPendingControl)
        {
            Interlocked.Decrement(ref _pendingControl);
            return false;
        }

        _ = PostAsync();
        return true;

        async Task PostAsync()
        {
            try
            {
                await WriteAsync(socket, message, kind, connectionToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection is going away; the receive loop reports why.
            }
            finally
            {
                Interlocked.Decrement(ref _pendingControl);
            }
        }
    }

    /// <summary>Writes the close frame, exclusive with other writes, within <paramref name="timeout"/>; aborts the socket if it cannot.</summary>
    public async Task<bool> CloseOutputAsync(WebSocket socket, WebSocketCloseStatus status, string description, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout, _time);
        try
        {
            await WriteLock.WaitAsync(cts.Token).ConfigureAwait(false);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(status, description, cts.Token).ConfigureAwait(false);
                }
            }
            finally
            {
                WriteLock.Release();
            }

            return true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            Log.CloseFailed(_logger, _name, ex.Message);
            socket.Abort();
            return false;
        }
    }

    /// <summary>Stop: every message not written ends <see cref="SendStatus.Stopped"/>, counted and logged.</summary>
    public void DropQueued()
    {
        if (Volatile.Read(ref _queue) is not { } queue)
        {
            return;
        }

        var (withdrawn, reportedQueued) = queue.WithdrawAll(SendStatus.Stopped);
        if (withdrawn > 0)
        {
            _metrics.OutboundDropped(_name, "stopped", withdrawn);
            Log.OutboundDroppedAtStop(_logger, _name, withdrawn, reportedQueued);
        }
    }
}
