using System.Buffers;
using System.Net.WebSockets;
using Gateway.Host.Configuration;

namespace Gateway.Host.Sockets;

/// <summary>
/// The send side: one bounded outbound queue per socket, drained in order by one send loop at a time.
/// Neither exists until needed: the queue is created by the first send, and the loop runs only while
/// there is something to write, so an idle socket that never sends carries neither.
/// </summary>
internal sealed partial class SocketConnection
{
    private OutboundQueue? _outbound;

    // The open connection's send side; null while disconnected.
    private volatile SendContext? _sending;

    // 1 while a send loop runs: at most one at a time keeps messages in order.
    private int _sendLoopRunning;
    private Task _sendLoop = Task.CompletedTask;

    private OutboundQueue Outbound
    {
        get
        {
            var queue = Volatile.Read(ref _outbound);
            if (queue is null)
            {
                var created = new OutboundQueue(Options.Outbound.Capacity);
                queue = Interlocked.CompareExchange(ref _outbound, created, null) ?? created;
            }

            return queue;
        }
    }

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

        var connected = _sending;
        var buffer = Options.Outbound.WhileDisconnected == OutboundPolicy.Buffer;
        if (connected is null && !buffer)
        {
            return SendStatus.NotConnected;
        }

        var item = new OutboundItem(payload, kind, _time.GetTimestamp());
        if (!Outbound.TryEnqueue(item))
        {
            _metrics.OutboundRejected(Name, "queue_full");
            return SendStatus.QueueFull;
        }

        // Read again: a connection that opened since the check above must not leave the message waiting.
        if (_sending is { } now)
        {
            KickSendLoop(now);
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

        if (connected is not null)
        {
            // Connected: report the write, or, if the connection drops first, what became of the message.
            await Task.WhenAny(item.Completion, connected.Lost.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>Sends become possible on this connection; what was queued while disconnected goes first.</summary>
    private SendContext StartSending(ClientWebSocket socket, CancellationToken connectionToken)
    {
        var context = new SendContext(socket, connectionToken);
        _sending = context;
        if (Volatile.Read(ref _outbound) is { Count: > 0 })
        {
            KickSendLoop(context);
        }

        return context;
    }

    private async Task StopSendingAsync(CancellationTokenSource connectionScope, SendContext? context)
    {
        _sending = null;
        await connectionScope.CancelAsync().ConfigureAwait(false);
        await Volatile.Read(ref _sendLoop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        context?.Lost.TrySetResult();
        if (Options.Outbound.WhileDisconnected == OutboundPolicy.Reject)
        {
            // Under Reject nothing waits for a reconnect; the waiting callers learn NotConnected.
            Volatile.Read(ref _outbound)?.WithdrawAll(SendStatus.NotConnected);
        }
    }

    private void KickSendLoop(SendContext context)
    {
        if (Interlocked.CompareExchange(ref _sendLoopRunning, 1, 0) == 0)
        {
            Volatile.Write(ref _sendLoop, Task.Run(() => RunSendLoopAsync(context), CancellationToken.None));
        }
    }

    /// <summary>Writes queued messages in order until the queue is empty or the connection fails.</summary>
    private async Task RunSendLoopAsync(SendContext context)
    {
        await DrainAsync(context).ConfigureAwait(false);
        Volatile.Write(ref _sendLoopRunning, 0);

        // A message queued after the queue looked empty, but before the flag was cleared, found the loop
        // still running and did not start one: look once more. After a reconnect, this also hands over
        // to the new connection what a stale loop found.
        if (Volatile.Read(ref _outbound) is { Count: > 0 } && _sending is { } current && !current.Token.IsCancellationRequested)
        {
            KickSendLoop(current);
        }
    }

    private async Task DrainAsync(SendContext context)
    {
        var reader = Outbound.Reader;
        var maxAge = Options.Outbound.MaxAge;
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
                await WriteAsync(context.Socket, item.Payload, item.Kind, context.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // Still first in line: written after the next connect (Buffer) or withdrawn (Reject).
                item.Release();
                if (!context.Token.IsCancellationRequested)
                {
                    Log.SendFailed(_logger, Name, ex);
                    context.Socket.Abort(); // the receive loop notices and reconnects
                }

                return;
            }

            reader.TryRead(out _);
            item.CompleteWritten();
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
        if (Volatile.Read(ref _outbound) is not { } queue)
        {
            return;
        }

        var (withdrawn, reportedQueued) = queue.WithdrawAll(SendStatus.Stopped);
        if (withdrawn > 0)
        {
            _metrics.OutboundDropped(Name, "stopped", withdrawn);
            Log.OutboundDroppedAtStop(_logger, Name, withdrawn, reportedQueued);
        }
    }

    /// <summary>One connection's means to write, and the signal that it is gone.</summary>
    private sealed class SendContext(ClientWebSocket socket, CancellationToken token)
    {
        public ClientWebSocket Socket { get; } = socket;

        public CancellationToken Token { get; } = token;

        public TaskCompletionSource Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
