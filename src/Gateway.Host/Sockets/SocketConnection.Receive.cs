using System.Net.WebSockets;
using Gateway.Host.Dispatch;
using Gateway.Host.Protocols;
using Gateway.Host.Transport;

namespace Gateway.Host.Sockets;

/// <summary>The receive loop: messages to the session, frames to the dispatcher, the close handshake.</summary>
internal sealed partial class SocketConnection
{
    /// <summary>Reads until the connection ends; never throws: the result says why it ended.</summary>
    private async Task<DisconnectReason> ReceiveLoopAsync(LiveConnection live, UpstreamConnection connection)
    {
        var socket = live.Socket;

        // Reads take no token: a cancellable token costs a registration per call. Abort ends them instead.
        using var abort = _abort.Token.UnsafeRegister(static s => ((WebSocket)s!).Abort(), socket);
        try
        {
            while (true)
            {
                if (socket is GatewayWebSocket { NothingBuffered: true } idle)
                {
                    // An idle socket parks here, on the stream's own read: the only state machine it holds is this loop's.
                    try
                    {
                        await idle.WaitForDataAsync().ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException or OperationCanceledException)
                    {
                        // The read that follows meets the same end and reports it as the socket's failure.
                    }
                }

                var batch = _batch ??= new ReceiveBatch();
                var read = await _reader.ReadBatchAsync(socket, batch).ConfigureAwait(false);
                if (read.Outcome == ReadOutcome.Batch)
                {
                    await DeliverBatchAsync(live, connection, batch).ConfigureAwait(false);
                    continue;
                }

                if (read.Outcome == ReadOutcome.Close)
                {
                    return await OnCloseReceivedAsync(socket).ConfigureAwait(false);
                }

                if (read.Outcome == ReadOutcome.TooLarge)
                {
                    return await RejectOversizedAsync(socket, connection).ConfigureAwait(false);
                }

                var buffer = read.Buffer!;
                var timestamp = _time.GetTimestamp();
                Volatile.Write(ref _lastReceived, timestamp);
                if (live.Session.OnMessage(buffer.AsSpan(0, read.Count), read.Kind, out var frame) != ReceiveDecision.Deliver)
                {
                    // Control traffic the session answered, or a protocol error it is closing for.
                    _pool.Return(buffer);
                    continue;
                }

                // Usually one frame a message, delivered in the message's buffer. When the message holds
                // more (STOMP), each but the last gets a buffer of its own, so every frame ends on its own.
                var messageBufferUsed = false;
                while (true)
                {
                    var more = live.Session.TryNextFrame(buffer.AsSpan(0, read.Count), out var next);
                    var frameBuffer = frame.Buffer ?? (more ? null : buffer);
                    messageBufferUsed |= frameBuffer == buffer;
                    if (frameBuffer is null)
                    {
                        (frameBuffer, frame) = CopyOut(buffer, frame);
                    }

                    await DeliverAsync(live, connection, frameBuffer, frame, read.Kind, timestamp).ConfigureAwait(false);
                    if (!more)
                    {
                        break;
                    }

                    frame = next;
                }

                if (!messageBufferUsed)
                {
                    _pool.Return(buffer);
                }
            }
        }
        catch (Exception ex)
        {
            return _closedByGateway ?? Disconnects.FromError(ex, _abort.IsCancellationRequested);
        }
        finally
        {
            // A batch cut short by a failure gives its buffer back; the next connection starts empty.
            _batch?.Clear();
        }
    }

    /// <summary>
    /// The messages of <paramref name="batch"/> to the session, and its frames to the dispatcher: slices of the shared
    /// receive buffer (each frame holds a reference), one clock read for all, no copy. They are handed over
    /// <see cref="QueueAtOnce"/> at a time, so the envelopes built, queued and taken stay few (in the CPU's cache) and
    /// the handlers start on the first ones while a large read is still being turned into frames.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DeliverBatchAsync(LiveConnection live, UpstreamConnection connection, ReceiveBatch batch)
    {
        var shared = batch.Buffer!;
        var array = shared.Array;
        var timestamp = _time.GetTimestamp();
        var receivedAt = _time.GetUtcNow();
        Volatile.Write(ref _lastReceived, timestamp);

        // This thread's scratch: free again whenever QueueFrames returns (the dispatcher copies what waits for room).
        var envelopes = t_batchEnvelopes ??= new FrameEnvelope[QueueAtOnce];
        var count = 0;
        var references = 0;
        var bytes = 0L;
        for (var i = 0; i < batch.Count; i++)
        {
            var message = batch[i];
            if (live.Session.OnMessage(array.AsSpan(message.Offset, message.Length), message.Kind, out var frame) != ReceiveDecision.Deliver)
            {
                continue;
            }

            while (true)
            {
                var more = live.Session.TryNextFrame(array.AsSpan(message.Offset, message.Length), out var next);

                // A slice of the message, so of the shared buffer; or a buffer of the session's own.
                var completion = frame.CompletionToken != 0 ? live.Session : null;
                bytes += frame.Length;
                if (frame.Buffer is { } own)
                {
                    envelopes[count++] = FrameEnvelope.ForFrame(connection, own, frame.Offset, frame.Length, message.Kind, ++_sequence, receivedAt, timestamp, completion, frame.CompletionToken, frame.HeadersOffset, frame.HeadersLength);
                }
                else
                {
                    references++;
                    envelopes[count++] = FrameEnvelope.ForFrame(connection, shared, message.Offset + frame.Offset, frame.Length, message.Kind, ++_sequence, receivedAt, timestamp, completion, frame.CompletionToken, frame.HeadersLength > 0 ? message.Offset + frame.HeadersOffset : 0, frame.HeadersLength);
                }

                if (count == envelopes.Length)
                {
                    var queuing = QueueFrames(live, shared, envelopes, count, references, bytes);
                    (count, references, bytes) = (0, 0, 0L);
                    if (!queuing.IsCompletedSuccessfully)
                    {
                        await AwaitQueuedAsync(queuing).ConfigureAwait(false);
                    }

                    envelopes = t_batchEnvelopes ??= new FrameEnvelope[QueueAtOnce]; // the wait may have moved this loop to another thread
                }

                if (!more)
                {
                    break;
                }

                frame = next;
            }
        }

        if (count > 0)
        {
            await AwaitQueuedAsync(QueueFrames(live, shared, envelopes, count, references, bytes)).ConfigureAwait(false);
        }

        // The frames hold references of their own; the batch's goes.
        batch.Clear();
    }

    /// <summary>
    /// Queues <paramref name="count"/> frames built in <paramref name="envelopes"/> (free again when this returns), or
    /// counts them lost while stopping. Their references to <paramref name="shared"/> are added first, so that no
    /// handler can give the buffer back early.
    /// </summary>
    private ValueTask QueueFrames(LiveConnection live, SharedBuffer shared, FrameEnvelope[] envelopes, int count, int references, long bytes)
    {
        shared.AddReferences(references);
        Status.AddReceived(count, bytes);
        if (!_delivering)
        {
            // Stopping: read on (receipts, replies), but deliver nothing new.
            for (var i = 0; i < count; i++)
            {
                Dispatcher.Lose(envelopes[i]);
            }

            Array.Clear(envelopes, 0, count);
            return ValueTask.CompletedTask;
        }

        live.TryClaimAnnouncement();
        return Dispatcher.EnqueueAsync(envelopes, count);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitQueuedAsync(ValueTask queuing)
    {
        try
        {
            await queuing.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_delivering)
        {
            // The stop closed the queue while these frames waited for room (Wait): they were counted as lost;
            // read on, so the connection can still close in order.
        }
    }

    /// <summary>Counts the frame, gives it a sequence number and queues it for the handlers (or counts it lost while stopping).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DeliverAsync(LiveConnection live, UpstreamConnection connection, byte[] buffer, InboundFrame frame, FrameKind kind, long timestamp)
    {
        Status.AddReceived(frame.Length);
        var completion = frame.CompletionToken != 0 ? live.Session : null;
        var envelope = FrameEnvelope.ForFrame(connection, buffer, frame.Offset, frame.Length, kind, ++_sequence, _time.GetUtcNow(), timestamp, completion, frame.CompletionToken, frame.HeadersOffset, frame.HeadersLength);
        if (!_delivering)
        {
            // Stopping: read on (receipts, replies), but deliver nothing new.
            Dispatcher.Lose(envelope);
            return;
        }

        live.TryClaimAnnouncement();
        try
        {
            await Dispatcher.EnqueueAsync(envelope).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_delivering)
        {
            // The stop closed the queue while this frame waited for room (Wait): it was counted
            // as lost; read on, so the connection can still close in order.
        }
    }

    /// <summary>A frame's headers and payload copied from the message into a pooled buffer of their own.</summary>
    private (byte[] Buffer, InboundFrame Frame) CopyOut(byte[] message, InboundFrame frame)
    {
        var start = frame.HeadersLength > 0 ? Math.Min(frame.HeadersOffset, frame.Offset) : frame.Offset;
        var end = Math.Max(frame.Offset + frame.Length, frame.HeadersOffset + frame.HeadersLength);
        var copy = _pool.Rent(Math.Max(end - start, 1));
        message.AsSpan(start, end - start).CopyTo(copy);
        return (copy, frame with { Offset = frame.Offset - start, HeadersOffset = frame.HeadersLength > 0 ? frame.HeadersOffset - start : 0 });
    }

    private async Task<DisconnectReason> OnCloseReceivedAsync(WebSocket socket)
    {
        var status = socket.CloseStatus;
        var description = socket.CloseStatusDescription;
        if (socket.State == WebSocketState.CloseReceived)
        {
            // The server started the close: answer it with the same code. Or the gateway did, and the
            // server's answer overtook the end of that send (the state reads CloseReceived until the
            // send completes): then the gateway's reason stands, and the close is already sent.
            await Outbound.CloseOutputAsync(socket, status ?? WebSocketCloseStatus.NormalClosure, string.Empty, s_closeHandshakeTimeout).ConfigureAwait(false);
            return _closedByGateway ?? new DisconnectReason(status, description, null, ClosedByGateway: false) { Kind = DisconnectKind.ServerClosed };
        }

        // The server answered a close the gateway started.
        return _closedByGateway ?? new DisconnectReason(status, description, null, ClosedByGateway: true) { Kind = DisconnectKind.ServerClosed };
    }

    private async Task<DisconnectReason> RejectOversizedAsync(WebSocket socket, UpstreamConnection connection)
    {
        var sequence = ++_sequence;
        Status.AddReceived(Options.MaxMessageSize);
        Status.AddDropped();
        _metrics.FrameDropped(Name, "too_large");
        Log.MessageTooBig(_logger, Name, connection.Number, sequence, Options.MaxMessageSize);
        var reason = new DisconnectReason(WebSocketCloseStatus.MessageTooBig, $"message larger than {Options.MaxMessageSize} bytes (MaxMessageSize)", null, ClosedByGateway: true) { Kind = DisconnectKind.MessageTooBig };
        _closedByGateway = reason;
        await Outbound.CloseOutputAsync(socket, WebSocketCloseStatus.MessageTooBig, "message too big", s_closeHandshakeTimeout).ConfigureAwait(false);

        // Discard the rest of the message until the server's close arrives, briefly.
        var scratch = _pool.Rent(16 * 1024);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            timeout.CancelAfter(s_closeHandshakeTimeout);
            while ((await socket.ReceiveAsync(scratch.AsMemory(), timeout.Token).ConfigureAwait(false)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
            socket.Abort();
        }
        finally
        {
            _pool.Return(scratch);
        }

        return reason;
    }
}
