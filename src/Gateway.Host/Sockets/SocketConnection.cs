using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Transport;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>
/// The worker for one configured socket: connect, receive loop, sends, close handshake, reconnect
/// with backoff. Owns the socket's <see cref="FrameDispatcher"/>, which outlives each connection.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "StopAsync, the end of its life, disposes it.")]
internal sealed partial class SocketConnection
{
    private const int MinReceiveBuffer = 256;

    // Messages up to this size are read without parking first while they arrive back to back.
    private const int BurstReadMax = 16 * 1024;
    private static readonly TimeSpan s_closeHandshakeTimeout = TimeSpan.FromSeconds(5);

    private readonly Uri _connectUrl;
    private readonly Uri _displayUrl;
    private readonly WebSocketConnector _connector;
    private readonly FrameBufferPool _pool;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Task _startGate;
    private readonly IOutboundEncoder _encoder;

    // Cancels connect attempts and backoff waits at once; the receive loop instead ends through the close handshake.
    private readonly CancellationTokenSource _stopping = new();

    // Cancels everything, once the close handshake had its chance.
    private readonly CancellationTokenSource _abort = new();
    private Task _run = Task.CompletedTask;
    private ClientWebSocket? _socket;
    private volatile DisconnectReason? _closedByGateway;
    private long _lastReceived;
    private long _sequence;
    private long _connectionNumber;
    private int _sizeHint = MinReceiveBuffer;
    private int _reconnectNow;

    public SocketConnection(string name, SocketOptions options, HandlerPipeline pipeline, IOutboundEncoder encoder, WebSocketConnector connector, GatewayMetrics metrics, TimeProvider time, ILoggerFactory loggerFactory, Task startGate)
    {
        _startGate = startGate;
        _encoder = encoder;
        Name = name;
        Options = options;
        _connectUrl = UrlRedaction.WithoutUserInfo(options.Url!);
        _displayUrl = UrlRedaction.ForDisplay(options.Url!);
        _connector = connector;
        _pool = new FrameBufferPool(maxRetainedPerSize: options.Queue.Capacity + 2);
        _metrics = metrics;
        _time = time;
        _logger = loggerFactory.CreateLogger<SocketConnection>();
        Status = new SocketStatus(name, options.Protocol.ToString(), options.Required, _displayUrl.ToString()) { Groups = options.Groups };
        Status.OutboundDepth = () => Volatile.Read(ref _outbound)?.Count ?? 0;
        Dispatcher = new FrameDispatcher(name, options.Queue, pipeline, _pool, metrics, Status, time, loggerFactory.CreateLogger<FrameDispatcher>());
    }

    public string Name { get; }

    public SocketOptions Options { get; }

    public SocketStatus Status { get; }

    public FrameDispatcher Dispatcher { get; }

    public void Start()
    {
        if (Options.DangerousAcceptAnyServerCertificate)
        {
            Log.CertificateValidationDisabled(_logger, Name, _displayUrl);
        }

        Dispatcher.Start();
        _run = Task.Run(() => RunAsync());
    }

    /// <summary>
    /// Closes the connection with 1001 (going away), waits for the server's close, then lets the
    /// handlers finish the queued frames, all within <paramref name="timeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        var started = _time.GetTimestamp();
        SetState(SocketState.Stopping, 0);
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _socket) is { } socket)
        {
            await CloseOutputAsync(socket, WebSocketCloseStatus.EndpointUnavailable, "gateway stopping", timeout).ConfigureAwait(false);
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

        await Dispatcher.CompleteAsync(Remaining(timeout, started)).ConfigureAwait(false);
        DropQueuedOnStop();
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

    /// <summary>Closes the current connection (1000, "reconnect requested") and connects again without waiting out a backoff.</summary>
    /// <returns><see langword="false"/> when there is no open connection to restart.</returns>
    public async Task<bool> ReconnectAsync()
    {
        if (Volatile.Read(ref _socket) is not { } socket || _stopping.IsCancellationRequested)
        {
            return false;
        }

        Interlocked.Exchange(ref _reconnectNow, 1);
        _closedByGateway = new DisconnectReason(WebSocketCloseStatus.NormalClosure, "reconnect requested", null, ClosedByGateway: true);
        Log.ReconnectRequested(_logger, Name);
        await CloseOutputAsync(socket, WebSocketCloseStatus.NormalClosure, "reconnect requested", s_closeHandshakeTimeout).ConfigureAwait(false);
        return true;
    }

    /// <summary>Called by the supervisor's watchdog: drops a connection that has been silent too long.</summary>
    public void CheckSilence(long now)
    {
        if (Options.NoMessageTimeout is not { } limit || Volatile.Read(ref _socket) is not { } socket)
        {
            return;
        }

        var silent = _time.GetElapsedTime(Volatile.Read(ref _lastReceived), now);
        if (silent >= limit && _closedByGateway is null)
        {
            _closedByGateway = new DisconnectReason(null, $"no message for {limit.TotalSeconds:0.###} s (NoMessageTimeout)", null, ClosedByGateway: true);
            Log.SilenceTimeout(_logger, Name, limit);
            socket.Abort();
        }
    }

    private async Task RunAsync()
    {
        try
        {
            await _startGate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var attempt = 0;
        var hasConnected = false;
        while (!_stopping.IsCancellationRequested)
        {
            SetState(SocketState.Connecting, attempt);
            _metrics.ConnectionAttempt(Name, Status.Protocol);
            using var span = GatewayTelemetry.StartConnectAttempt(Name, Status.Protocol, _displayUrl, attempt);
            ClientWebSocket socket;
            try
            {
                socket = await _connector.ConnectAsync(Name, Options, _connectUrl, attempt, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                GatewayTelemetry.Stopped(span);
                break;
            }
            catch (Exception ex)
            {
                var failure = ex as ConnectException;
                var errorType = failure?.ErrorType ?? ex.GetType().Name;
                Status.RecordError(ex.Message, failure?.HttpStatus);
                _metrics.ConnectionFailed(Name, Status.Protocol, errorType);
                GatewayTelemetry.Failed(span, ex, errorType, failure?.HttpStatus);
                Log.ConnectFailed(_logger, Name, _displayUrl, failure?.HttpStatus, ex.Message);
                if (!await WaitBeforeRetryAsync(++attempt).ConfigureAwait(false))
                {
                    break;
                }

                continue;
            }

            var connectedAt = _time.GetTimestamp();
            await RunConnectionAsync(socket, hasConnected, span).ConfigureAwait(false);

            // The span ended inside RunConnectionAsync, whose flow does not reach back here.
            Activity.Current = null;
            hasConnected = true;
            if (_stopping.IsCancellationRequested)
            {
                break;
            }

            if (_time.GetElapsedTime(connectedAt) >= Options.Reconnect.ResetAfter)
            {
                attempt = 0;
            }

            if (!await WaitBeforeRetryAsync(++attempt).ConfigureAwait(false))
            {
                break;
            }
        }

        if (!_stopping.IsCancellationRequested)
        {
            SetState(SocketState.Stopped, attempt);
        }
    }

    private async Task RunConnectionAsync(ClientWebSocket socket, bool isReconnect, Activity? span)
    {
        var connection = new UpstreamConnection(Name, ++_connectionNumber, _displayUrl, socket.SubProtocol, _time.GetUtcNow());
        GatewayTelemetry.Upgraded(span, connection.Number, socket.SubProtocol);
        _closedByGateway = null;
        Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        Status.RecordConnected();
        _metrics.ConnectionOpened(Name, Status.Protocol, isReconnect);
        Log.Connected(_logger, Name, _displayUrl, connection.Number, socket.SubProtocol);
        DisconnectReason reason;
        SendContext? sending = null;
        using var connectionScope = new CancellationTokenSource();
        try
        {
            // Full fence, paired with StopAsync (cancel, then read _socket): one of the two sends the close.
            Interlocked.Exchange(ref _socket, socket);
            if (_stopping.IsCancellationRequested)
            {
                await CloseOutputAsync(socket, WebSocketCloseStatus.EndpointUnavailable, "gateway stopping", s_closeHandshakeTimeout).ConfigureAwait(false);
            }

            // Static OnConnect messages first, then what was queued while disconnected, then live sends.
            await SendOnConnectAsync(socket).ConfigureAwait(false);
            GatewayTelemetry.Ready(span);
            sending = StartSending(socket, connectionScope.Token);
            SetState(SocketState.Ready, 0);

            // Handlers hear of the connection once sends work, so a connect hook can send.
            await Dispatcher.ConnectedAsync(connection).ConfigureAwait(false);
            reason = await ReceiveLoopAsync(socket, connection).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            reason = _closedByGateway ?? new DisconnectReason(null, null, ex, ClosedByGateway: _abort.IsCancellationRequested);
            GatewayTelemetry.Failed(span, ex, "handshake", null);
        }
        finally
        {
            Volatile.Write(ref _socket, null);
            await StopSendingAsync(connectionScope, sending).ConfigureAwait(false);
        }

        _metrics.ConnectionClosed(Name, Status.Protocol);
        Status.RecordClose((int?)reason.CloseStatus, reason.CloseDescription);
        if (reason.Error is { } error)
        {
            Status.RecordError(error.Message, null);
        }

        Log.Disconnected(_logger, Name, connection.Number, (int?)reason.CloseStatus, reason.CloseDescription, reason.ClosedByGateway, reason.Error?.Message);
        Dispatcher.Disconnected(connection, reason);
        socket.Dispose();
    }

    private async Task SendOnConnectAsync(ClientWebSocket socket)
    {
        foreach (var message in Options.OnConnect)
        {
            var (payload, kind) = message.Text is { } text
                ? (Encoding.UTF8.GetBytes(text), FrameKind.Text)
                : (Convert.FromBase64String(message.Binary ?? string.Empty), FrameKind.Binary);
            await WriteAsync(socket, payload, kind, _abort.Token).ConfigureAwait(false);
        }
    }

    private async Task<DisconnectReason> ReceiveLoopAsync(ClientWebSocket socket, UpstreamConnection connection)
    {
        // Reads take no token: a cancellable token costs a registration per call. Abort ends them instead.
        using var abort = _abort.Token.UnsafeRegister(static s => ((WebSocket)s!).Abort(), socket);
        var limit = Options.MaxMessageSize + 1L;
        var inBurst = false;
        while (true)
        {
            ValueWebSocketReceiveResult result;
            byte[] buffer;
            if (inBurst && _sizeHint <= BurstReadMax)
            {
                // The previous message was already buffered when we asked for it, so this one most likely
                // is too: read it straight into a buffer (one call instead of two). If the burst ended
                // just now, this read holds one small buffer until the next message.
                buffer = _pool.Rent(_sizeHint);
                var read = socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit)), CancellationToken.None);
                inBurst = read.IsCompletedSuccessfully;
                try
                {
                    result = await read.ConfigureAwait(false);
                }
                catch
                {
                    _pool.Return(buffer);
                    throw;
                }
            }
            else
            {
                // Park without a buffer until the next message starts (SignalR's WebSocketsTransport does the same).
                var park = socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                inBurst = park.IsCompletedSuccessfully;
                result = await park.ConfigureAwait(false);
                buffer = _pool.Rent(result.EndOfMessage ? 1 : (int)Math.Min(_sizeHint, limit));
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                _pool.Return(buffer);
                return await OnCloseReceivedAsync(socket).ConfigureAwait(false);
            }

            var kind = result.MessageType == WebSocketMessageType.Text ? FrameKind.Text : FrameKind.Binary;
            var count = result.Count;
            try
            {
                while (!result.EndOfMessage)
                {
                    if (count >= limit)
                    {
                        _pool.Return(buffer);
                        return await RejectOversizedAsync(socket, connection).ConfigureAwait(false);
                    }

                    if (count == buffer.Length)
                    {
                        var larger = _pool.Rent((int)Math.Min(buffer.Length * 2L, limit));
                        buffer.AsSpan(0, count).CopyTo(larger);
                        _pool.Return(buffer);
                        buffer = larger;
                    }

                    var window = (int)Math.Min(buffer.Length, limit) - count;
                    result = await socket.ReceiveAsync(buffer.AsMemory(count, window), CancellationToken.None).ConfigureAwait(false);
                    count += result.Count;
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        _pool.Return(buffer);
                        return await OnCloseReceivedAsync(socket).ConfigureAwait(false);
                    }
                }
            }
            catch
            {
                _pool.Return(buffer);
                throw;
            }

            if (count >= limit)
            {
                _pool.Return(buffer);
                return await RejectOversizedAsync(socket, connection).ConfigureAwait(false);
            }

            _sizeHint = Math.Max(count, MinReceiveBuffer);
            var timestamp = _time.GetTimestamp();
            Volatile.Write(ref _lastReceived, timestamp);
            Status.AddReceived(count);
            var envelope = FrameEnvelope.ForFrame(connection, buffer, count, kind, ++_sequence, _time.GetUtcNow(), timestamp);
            await Dispatcher.EnqueueAsync(envelope).ConfigureAwait(false);
        }
    }

    private async Task<DisconnectReason> OnCloseReceivedAsync(ClientWebSocket socket)
    {
        var status = socket.CloseStatus;
        var description = socket.CloseStatusDescription;
        if (socket.State == WebSocketState.CloseReceived)
        {
            // The server started the close: answer it with the same code.
            await CloseOutputAsync(socket, status ?? WebSocketCloseStatus.NormalClosure, string.Empty, s_closeHandshakeTimeout).ConfigureAwait(false);
            return new DisconnectReason(status, description, null, ClosedByGateway: false);
        }

        // The server answered a close the gateway started.
        return _closedByGateway ?? new DisconnectReason(status, description, null, ClosedByGateway: true);
    }

    private async Task<DisconnectReason> RejectOversizedAsync(ClientWebSocket socket, UpstreamConnection connection)
    {
        var sequence = ++_sequence;
        Status.AddReceived(Options.MaxMessageSize);
        Status.AddDropped();
        _metrics.FrameDropped(Name, "too_large");
        Log.MessageTooBig(_logger, Name, connection.Number, sequence, Options.MaxMessageSize);
        var reason = new DisconnectReason(WebSocketCloseStatus.MessageTooBig, $"message larger than {Options.MaxMessageSize} bytes", null, ClosedByGateway: true);
        _closedByGateway = reason;
        await CloseOutputAsync(socket, WebSocketCloseStatus.MessageTooBig, "message too big", s_closeHandshakeTimeout).ConfigureAwait(false);

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

    private async Task CloseOutputAsync(ClientWebSocket socket, WebSocketCloseStatus status, string description, TimeSpan timeout)
    {
        _closedByGateway ??= new DisconnectReason(status, description, null, ClosedByGateway: true);
        using var cts = new CancellationTokenSource(timeout, _time);
        try
        {
            await _sendLock.WaitAsync(cts.Token).ConfigureAwait(false);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(status, description, cts.Token).ConfigureAwait(false);
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            Log.CloseFailed(_logger, Name, ex.Message);
            socket.Abort();
        }
    }

    private async Task<bool> WaitBeforeRetryAsync(int attempt)
    {
        if (Options.Reconnect.MaxAttempts is { } max && attempt > max)
        {
            Log.GaveUp(_logger, Name, max);
            SetState(SocketState.Stopped, attempt);
            return false;
        }

        var delay = Interlocked.Exchange(ref _reconnectNow, 0) == 1
            ? TimeSpan.Zero
            : ReconnectBackoff.GetDelay(Options.Reconnect, attempt, Random.Shared.NextDouble());
        SetState(SocketState.Waiting, attempt);
        Log.Waiting(_logger, Name, attempt, delay);
        try
        {
            await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void SetState(SocketState state, int attempt)
    {
        if (Status.TrySetState(state, _time.GetUtcNow(), attempt))
        {
            Log.StateChanged(_logger, Name, state, attempt);
        }
    }
}
