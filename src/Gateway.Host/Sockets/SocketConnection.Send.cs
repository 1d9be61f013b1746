using System.Buffers;
using System.Net.WebSockets;
using Gateway.Host.Configuration;

namespace Gateway.Host.Sockets;

/// <summary>The send side: one bounded outbound queue per socket, drained by one send loop per connection.</summary>
internal sealed partial class SocketConnection
{
    // Set while a connection's send loop runs; completed when that connection is lost.
    private volatile TaskCompletionSource? _connectionLost;

    /// <summary>
    /// Accepts a message: waits for its write while connected; while disconnected queues it
    /// (<see cref="OutboundPolicy.Buffer"/>) or rejects it (<see cref="OutboundPolicy.Reject"/>).
    /// With <paramref name="waitForWrite"/>, waits through reconnects until it is written or dropped.
    /// </summary>
    public async ValueTask<SendStatus> SendAsync(OutboundMessage message, bool waitForWrite, CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return SendStatus.Stopped;
        }

        var (payload, kind) = Encode(message);
        if (payload.Length > Options.MaxMessageSize)
        {
            return SendStatus.TooLarge;
        }

        var lost = _connectionLost;
        var buffer = Options.Outbound.WhileDisconnected == OutboundPolicy.Buffer;
        if (lost is null && !buffer)
        {
            return SendStatus.NotConnected;
        }

        var item = new OutboundItem(payload, kind, _time.GetTimestamp());
        if (!_outbound.TryEnqueue(item))
        {
            _metrics.OutboundRejected(Name, "queue_full");
            return SendStatus.QueueFull;
        }

        if (waitForWrite)
        {
            try
            {
                return await item.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (item.TryWithdraw(SendStatus.Stopped))
            {
                throw;
            }
        }

        if (lost is not null)
        {
            // Connected: report the write, or, if the connection drops first, what became of the message.
            await Task.WhenAny(item.Completion, lost.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (item.Completion.IsCompleted)
            {
                return item.Completion.Result;
            }

            if (!buffer)
            {
                return item.TryWithdraw(SendStatus.NotConnected) ? SendStatus.NotConnected : await item.Completion.ConfigureAwait(false);
            }
        }

        item.ReportedQueued = true;
        return item.IsDone ? item.Completion.Result : SendStatus.Queued;
    }

    private (byte[] Payload, FrameKind Kind) Encode(in OutboundMessage message)
    {
        if (message.Value is not { } value)
        {
            return (message.Payload.ToArray(), message.Kind);
        }

        var output = new ArrayBufferWriter<byte>();
        var kind = _encoder.Encode(value, output);
        return (output.WrittenSpan.ToArray(), kind);
    }

    private Task StartSending(ClientWebSocket socket, CancellationToken connectionToken)
    {
        _connectionLost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return Task.Run(() => RunSendLoopAsync(socket, connectionToken), CancellationToken.None);
    }

    private async Task StopSendingAsync(CancellationTokenSource connectionScope, Task sending)
    {
        var lost = _connectionLost;
        _connectionLost = null;
        await connectionScope.CancelAsync().ConfigureAwait(false);
        await sending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lost?.TrySetResult();
        if (Options.Outbound.WhileDisconnected == OutboundPolicy.Reject)
        {
            // Under Reject nothing waits for a reconnect; the waiting callers learn NotConnected.
            _outbound.WithdrawAll(SendStatus.NotConnected);
        }
    }

    /// <summary>Writes queued messages in order while the connection lasts; a message whose write fails stays first in line.</summary>
    private async Task RunSendLoopAsync(ClientWebSocket socket, CancellationToken connectionToken)
    {
        var reader = _outbound.Reader;
        var maxAge = Options.Outbound.MaxAge;
        try
        {
            while (await reader.WaitToReadAsync(connectionToken).ConfigureAwait(false))
            {
                while (reader.TryPeek(out var item))
                {
                    if (item.IsDone)
                    {
                        reader.TryRead(out _); // withdrawn by its sender
                        continue;
                    }

                    if (_time.GetElapsedTime(item.EnqueuedAt) > maxAge)
                    {
                        reader.TryRead(out _);
                        if (item.TryWithdraw(SendStatus.Expired))
                        {
                            _metrics.OutboundDropped(Name, "expired", 1);
                            Log.OutboundExpired(_logger, Name, maxAge);
                        }

                        continue;
                    }

                    if (!item.TryClaim())
                    {
                        continue; // withdrawn just now; removed on the next pass
                    }

                    try
                    {
                        await WriteAsync(socket, item.Payload, item.Kind, connectionToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
                    {
                        item.Release();
                        if (!connectionToken.IsCancellationRequested)
                        {
                            Log.SendFailed(_logger, Name, ex);
                            socket.Abort(); // the receive loop notices and reconnects
                        }

                        return;
                    }

                    reader.TryRead(out _);
                    item.CompleteWritten();
                }
            }
        }
        catch (OperationCanceledException) when (connectionToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One message, written whole, exclusive with other writers (OnConnect, close handshake).</summary>
    private async Task WriteAsync(ClientWebSocket socket, ReadOnlyMemory<byte> payload, FrameKind kind, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var type = kind == FrameKind.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
            await socket.SendAsync(payload, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }

        Status.AddSent(payload.Length);
    }

    private void DropQueuedOnStop()
    {
        var pending = _outbound.Count;
        var reportedQueued = _outbound.WithdrawAll(SendStatus.Stopped);
        if (pending > 0)
        {
            _metrics.OutboundDropped(Name, "stopped", pending);
            Log.OutboundDroppedAtStop(_logger, Name, pending, reportedQueued);
        }
    }
}
