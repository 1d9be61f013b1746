using System.Diagnostics;
using System.Net.WebSockets;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Gateway.Host.Transport;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>
/// The worker for one configured socket, a state machine: Connecting, Handshaking (the protocol
/// session's handshake), Ready, then after a close or failure Waiting (backoff) and Connecting
/// again, until Stopped. Reading messages is <see cref="WebSocketMessageReader"/>'s, the send side
/// is <see cref="OutboundPipeline"/>'s, what a message means is the session's. Owns the socket's
/// <see cref="FrameDispatcher"/> and pipeline, which outlive each connection.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "StopAsync, the end of its life, disposes it.")]
internal sealed partial class SocketConnection
{
    private static readonly TimeSpan s_closeHandshakeTimeout = TimeSpan.FromSeconds(5);

    private Uri _connectUrl;
    private Uri _displayUrl;
    private readonly WebSocketConnector _connector;
    private readonly IProtocol _protocol;
    private readonly FrameBufferPool _pool;
    private readonly WebSocketMessageReader _reader;

    // The receive loop's: the messages of one read; created with the first batch (an idle socket holds none).
    private ReceiveBatch? _batch;

    // A batch's frames on their way to the dispatcher, QueueAtOnce at a time; per thread, as the loop fills and
    // queues them without awaiting.
    [ThreadStatic]
    private static FrameEnvelope[]? t_batchEnvelopes;

    // Frames handed to the dispatcher at a time (its largest chunk).
    private const int QueueAtOnce = 64;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task _startGate;

    // Cancels connect attempts and backoff waits at once; the receive loop instead ends through the close handshake.
    private readonly CancellationTokenSource _stopping = new();

    // Cancels everything, once the close handshake had its chance.
    private readonly CancellationTokenSource _abort = new();

    // The source of the wait under way (the start gate, a connect attempt, a backoff delay), cancelled by StopAsync
    // after _stopping. Waits on _stopping's own token would leave their callback nodes on it for the socket's life
    // (~0.2 KiB per idle socket).
    private CancellationTokenSource? _wait;
    private Task _run = Task.CompletedTask;
    private LiveConnection? _live;
    private volatile DisconnectReason? _closedByGateway;
    private volatile bool _delivering = true;
    private SocketOptions _options = null!;
    private long _lastReceived;
    private long _sequence;
    private long _connectionNumber;
    private int _reconnectNow;

    // 20 lines per 10 s: five full cycles of Connecting, failed, Waiting, delay.
    private readonly LogThrottle _cycleLog = new(burst: 20);

    public SocketConnection(string name, SocketOptions options, IProtocol protocol, HandlerPipeline pipeline, IOutboundEncoder encoder, WebSocketConnector connector, GatewayMetrics metrics, TimeProvider time, SocketLoggers loggers, Task startGate)
    {
        _startGate = startGate;
        Name = name;
        Options = options;
        _protocol = protocol;
        _connectUrl = UrlRedaction.WithoutUserInfo(options.Url!);
        _displayUrl = UrlRedaction.ForDisplay(options.Url!);
        _connector = connector;
        _pool = new FrameBufferPool(maxRetainedPerSize: options.Queue.Capacity + 2);
        _reader = new WebSocketMessageReader(_pool, options.MaxMessageSize);
        _metrics = metrics;
        _time = time;
        _logger = loggers.Connection;
        Status = new SocketStatus(name, options.Protocol.ToString(), options.Required, _displayUrl.ToString()) {
            Groups = options.Groups,
            Transport = options.Transport.ToString(),
            Subscriptions = SubscriptionStatuses(options, []),
        };
        Outbound = new OutboundPipeline(name, options, protocol, encoder, metrics, Status, time, loggers.Outbound);
        Dispatcher = new FrameDispatcher(name, options.Queue, pipeline, _pool, metrics, Status, time, loggers.Dispatcher);
    }

    public string Name { get; }

    /// <summary>The socket's options; replaced only by <see cref="UpdateSubscriptions"/>, whose change needs no reconnect.</summary>
    public SocketOptions Options { get => Volatile.Read(ref _options); private set => Volatile.Write(ref _options, value); }

    public SocketStatus Status { get; }

    public FrameDispatcher Dispatcher { get; }

    public OutboundPipeline Outbound { get; }

    public void Start()
    {
        if (Options.DangerousAcceptAnyServerCertificate)
        {
            Log.CertificateValidationDisabled(_logger, Name, _displayUrl);
        }

        Dispatcher.Start();
        _run = RunAsync();
    }

    /// <inheritdoc cref="OutboundPipeline.SendAsync(OutboundMessage, bool, bool, CancellationToken)"/>
    public ValueTask<SendOutcome> SendAsync(OutboundMessage message, bool waitForConfirmation, CancellationToken cancellationToken)
        => Outbound.SendAsync(message, _stopping.IsCancellationRequested, waitForConfirmation, cancellationToken);

    /// <inheritdoc cref="OutboundPipeline.SendBatchAsync"/>
    public ValueTask<SendOutcome> SendBatchAsync(IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken)
        => Outbound.SendBatchAsync(messages, _stopping.IsCancellationRequested, cancellationToken);

    /// <summary>
    /// New protocol subscriptions (STOMP) on the open connection, without reconnecting: health lists
    /// the new set (keeping the counters of those that stay), the session unsubscribes what went and
    /// subscribes what came, and later connections use the new set.
    /// </summary>
    public void UpdateSubscriptions(SocketOptions next)
    {
        Status.Subscriptions = SubscriptionStatuses(next, Status.Subscriptions);
        Options = next;
        Volatile.Read(ref _live)?.Session.OnSubscriptionsChanged(next);
    }

    private static IReadOnlyList<SubscriptionStatus> SubscriptionStatuses(SocketOptions options, IReadOnlyList<SubscriptionStatus> current)
        => options.Protocol is not (SocketProtocol.Stomp or SocketProtocol.Phoenix) ? [] : [.. (options.Protocol switch
            {
                SocketProtocol.Stomp => options.Stomp.Subscriptions.Select((s, i) => (Id: s.IdAt(i), Destination: s.Destination ?? string.Empty)),
                SocketProtocol.Phoenix => options.Phoenix.Topics.Select(t => (Id: t.Topic ?? string.Empty, Destination: t.Topic ?? string.Empty)),
                _ => [],
            }).Select(s => current.FirstOrDefault(c => c.Id == s.Id && c.Destination == s.Destination) ?? new SubscriptionStatus(s.Id, s.Destination))];

    /// <summary>A topic's presence list from the open connection's session (Phoenix).</summary>
    public PresenceLookup TryGetPresence(string topic, out System.Text.Json.Nodes.JsonObject? presence)
    {
        presence = null;
        if (Options.Protocol != SocketProtocol.Phoenix || !Options.Phoenix.Topics.Exists(t => t.Topic == topic))
        {
            return PresenceLookup.UnknownTopic;
        }

        return Volatile.Read(ref _live)?.Session is IPresenceSource source && source.TryGetPresence(topic, out presence)
            ? PresenceLookup.Found
            : PresenceLookup.NotConnected;
    }

    /// <summary>Closes the current connection (1000, "reconnect requested") and connects again without waiting out a backoff.</summary>
    /// <returns><see langword="false"/> when there is no open connection to restart.</returns>
    public async Task<bool> ReconnectAsync()
    {
        if (Volatile.Read(ref _live) is not { } live || _stopping.IsCancellationRequested)
        {
            return false;
        }

        Interlocked.Exchange(ref _reconnectNow, 1);
        _closedByGateway = new DisconnectReason(WebSocketCloseStatus.NormalClosure, "reconnect requested", null, ClosedByGateway: true) { Kind = DisconnectKind.ReconnectRequested };
        Log.ReconnectRequested(_logger, Name);
        await Outbound.CloseOutputAsync(live.Socket, WebSocketCloseStatus.NormalClosure, "reconnect requested", s_closeHandshakeTimeout).ConfigureAwait(false);
        return true;
    }

    /// <summary>From the supervisor's shared watchdog: the session's heart-beats and deadlines, reply deadlines, and <c>NoMessageTimeout</c>.</summary>
    public void OnTick(long now)
    {
        if (Volatile.Read(ref _live) is not { } live)
        {
            return;
        }

        // The session's clock stands still while reads wait for queue room: a heart-beat answer (or a
        // pong) that cannot be read yet is not a missing one.
        var readingNow = now - (Dispatcher.RoomWaitTicks(now) - live.RoomWaitAtStart);
        live.Session.OnTick(readingNow);

        // The gateway's transport has no timer of its own: keep-alive pings and their deadline run from here.
        (live.Socket as GatewayWebSocket)?.KeepAlive(readingNow, Options.KeepAliveInterval, Options.KeepAliveTimeout, _time);
        Outbound.OnTick(now);
        if (Options.NoMessageTimeout is not { } limit || Dispatcher.IsWaitingForRoom)
        {
            // Quiet because the handlers hold the socket back (Wait): that is backpressure, not a dead feed.
            return;
        }

        // Silence counts from the last message or from when reading resumed after a wait for room, whichever is later.
        var silent = _time.GetElapsedTime(Math.Max(Volatile.Read(ref _lastReceived), Dispatcher.RoomWaitEndedAt), now);
        if (silent >= limit && _closedByGateway is null)
        {
            _closedByGateway = new DisconnectReason(null, $"no message for {limit.TotalSeconds:0.###} s (NoMessageTimeout)", null, ClosedByGateway: true) { Kind = DisconnectKind.NoMessageTimeout };
            Log.SilenceTimeout(_logger, Name, limit);
            live.Socket.Abort();
        }
    }

    private async Task RunAsync()
    {
        // Off the caller's thread (the supervisor starts every socket in one loop), without Task.Run's wrapper task.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        if (!_startGate.IsCompleted && !await WaitForStartAsync().ConfigureAwait(false))
        {
            return;
        }

        if (!_connectUrl.IsAbsoluteUri && _connector.TryResolveSelf(_connectUrl, out var self))
        {
            // A path on this gateway (the demo feed): the port it actually listens on is known now.
            _connectUrl = self;
            _displayUrl = UrlRedaction.ForDisplay(self);
            Status.Url = _displayUrl.ToString();
        }

        var attempt = 0;
        var hasConnected = false;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                SetState(SocketState.Connecting, attempt);
                _metrics.ConnectionAttempt(Name, Status.Protocol);
                using var span = GatewayTelemetry.StartConnectAttempt(Name, Status.Protocol, _displayUrl, attempt);
                WebSocket socket;
                try
                {
                    socket = await ConnectAsync(attempt).ConfigureAwait(false);
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
                    if (ShouldLogCycle())
                    {
                        Log.ConnectFailed(_logger, Name, _displayUrl, ex.Message);
                    }
                    if (!await WaitBeforeRetryAsync(++attempt).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                var readyAt = await RunConnectionAsync(socket, hasConnected, span).ConfigureAwait(false);

                // The span ended inside RunConnectionAsync, whose flow does not reach back here.
                Activity.Current = null;
                hasConnected |= readyAt is not null;
                if (_stopping.IsCancellationRequested)
                {
                    break;
                }

                // Reconnect:ResetAfter counts from Ready: a connection that never got through its handshake is a failed attempt.
                if (readyAt is { } ready && _time.GetElapsedTime(ready) >= Options.Reconnect.ResetAfter)
                {
                    attempt = 0;
                }

                if (!await WaitBeforeRetryAsync(++attempt).ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                // A bug, not a network failure: the socket must not die silently in "Connecting".
                Status.RecordError(ex.Message, null);
                _metrics.ConnectionFailed(Name, Status.Protocol, "worker");
                Log.WorkerFailed(_logger, Name, ex);
                if (!await WaitBeforeRetryAsync(++attempt).ConfigureAwait(false))
                {
                    break;
                }
            }
        }

        if (!_stopping.IsCancellationRequested)
        {
            SetState(SocketState.Stopped, attempt);
        }
    }

    /// <summary>Waits until the host has started; false when the socket stopped first.</summary>
    private async Task<bool> WaitForStartAsync()
    {
        var wait = BeginWait();
        try
        {
            await _startGate.WaitAsync(wait.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            EndWait(wait);
        }
    }

    /// <summary>One connect attempt, ended by a stop; in a method of its own, so that the parked worker does not keep its source.</summary>
    private async Task<WebSocket> ConnectAsync(int attempt)
    {
        var wait = BeginWait();
        try
        {
            return await _connector.ConnectAsync(Name, Options, _protocol.ConnectUrl(_connectUrl, Options), _protocol.SubProtocols(Options), attempt, wait.Token).ConfigureAwait(false);
        }
        finally
        {
            EndWait(wait);
        }
    }

    /// <summary>One connection, from the upgrade to its end.</summary>
    /// <returns>When it became Ready; <see langword="null"/> if its handshake never completed.</returns>
    private async Task<long?> RunConnectionAsync(WebSocket socket, bool isReconnect, Activity? span)
    {
        var connection = new UpstreamConnection(Name, ++_connectionNumber, _displayUrl, socket.SubProtocol, _time.GetUtcNow());
        GatewayTelemetry.Upgraded(span, connection.Number, socket.SubProtocol);
        _closedByGateway = null;
        Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        _metrics.ConnectionOpened(Name, Status.Protocol, isReconnect);
        Log.Connected(_logger, Name, _displayUrl, connection.Number, socket.SubProtocol);
        SetState(SocketState.Handshaking, 0);

        using var scope = new CancellationTokenSource();
        LiveConnection live;
        try
        {
            live = new LiveConnection(this, socket, scope.Token);
        }
        catch
        {
            _metrics.ConnectionClosed(Name, Status.Protocol, Disconnects.Label(DisconnectKind.Unknown));
            socket.Abort();
            socket.Dispose();
            throw;
        }

        long? readyAt = null;
        DisconnectReason reason;
        try
        {
            // Full fence, paired with StopAsync (cancel, then read _live): one of the two sends the close.
            Interlocked.Exchange(ref _live, live);
            if (_stopping.IsCancellationRequested)
            {
                _closedByGateway ??= new DisconnectReason(WebSocketCloseStatus.EndpointUnavailable, "gateway stopping", null, ClosedByGateway: true) { Kind = DisconnectKind.Stopping };
                await Outbound.CloseOutputAsync(socket, WebSocketCloseStatus.EndpointUnavailable, "gateway stopping", s_closeHandshakeTimeout).ConfigureAwait(false);
            }

            // The handshake needs the receive loop (STOMP's CONNECTED, Phoenix's join replies). The loop
            // outlives the attempt's span, so it must not run inside it.
            Activity.Current = null;
            var receiving = ReceiveLoopAsync(live, connection);
            live.Receiving = receiving;
            Activity.Current = span;
            if (await HandshakeAsync(live, receiving, span).ConfigureAwait(false))
            {
                GatewayTelemetry.Ready(span);
                readyAt = _time.GetTimestamp();

                // The last error stays in health until a connection gets through its handshake.
                Status.RecordConnected(_time.GetUtcNow(), isReconnect);
                live.EnterReady(scope.Token);

                // Handlers hear of the connection once it is Ready and sends flow, so a connect hook can send;
                // or already did, with the first frame (the dispatcher announces a connection before its first frame).
                if (live.TryClaimAnnouncement())
                {
                    await Dispatcher.ConnectedAsync(connection).ConfigureAwait(false);
                }
            }

            reason = await receiving.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            reason = _closedByGateway ?? Disconnects.FromError(ex, _abort.IsCancellationRequested);
            socket.Abort();
            if (live.Receiving is { } receiving)
            {
                await ((Task)receiving).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            Volatile.Write(ref _live, null);
            await scope.CancelAsync().ConfigureAwait(false);
            await Outbound.DetachAsync().ConfigureAwait(false);

            // The receive loop has ended: nothing parses any more (outcomes may still arrive, and are harmless).
            (live.Session as IDisposable)?.Dispose();
        }

        var label = Disconnects.Label(reason.Kind);
        var description = Disconnects.Describe(reason);
        _metrics.ConnectionClosed(Name, Status.Protocol, label);
        Status.RecordDisconnect(reason, label, description, _time.GetUtcNow());
        if (ShouldLogCycle())
        {
            Log.Disconnected(_logger, Name, connection.Number, description, label, (int?)reason.CloseStatus, ClosedBy(reason));
        }
        Dispatcher.Disconnected(connection, reason);
        socket.Dispose();
        return readyAt;
    }

    /// <summary>"gateway", "server", or "neither" (the connection dropped without a close frame).</summary>
    internal static string ClosedBy(DisconnectReason reason)
        => reason.ClosedByGateway ? "gateway" : reason.Kind == DisconnectKind.ServerClosed ? "server" : "neither";

    private async Task<bool> WaitBeforeRetryAsync(int attempt)
    {
        // MaxAttempts consecutive failed attempts, then no more.
        if (Options.Reconnect.MaxAttempts is { } max && attempt >= max)
        {
            Log.GaveUp(_logger, Name, max);
            SetState(SocketState.Stopped, attempt);
            return false;
        }

        var delay = Interlocked.Exchange(ref _reconnectNow, 0) == 1
            ? TimeSpan.Zero
            : ReconnectBackoff.GetDelay(Options.Reconnect, attempt, Random.Shared.NextDouble());
        SetState(SocketState.Waiting, attempt);
        if (ShouldLogCycle())
        {
            Log.Waiting(_logger, Name, attempt, delay);
        }
        var wait = BeginWait();
        try
        {
            await Task.Delay(delay, _time, wait.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            EndWait(wait);
        }
    }

    /// <summary>A source for one wait, cancelled now if the socket is already stopping, else by <see cref="CancelWait"/>.</summary>
    private CancellationTokenSource BeginWait()
    {
        var wait = new CancellationTokenSource();

        // Full fence, paired with StopAsync (cancel _stopping, then read _wait): one of the two cancels it.
        Interlocked.Exchange(ref _wait, wait);
        if (_stopping.IsCancellationRequested)
        {
            wait.Cancel();
        }

        return wait;
    }

    private void EndWait(CancellationTokenSource wait)
    {
        Interlocked.CompareExchange(ref _wait, null, wait);
        wait.Dispose();
    }

    /// <summary>Ends the wait under way, after <c>_stopping</c> was cancelled.</summary>
    private void CancelWait()
    {
        try
        {
            Volatile.Read(ref _wait)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That wait has just ended; the worker sees _stopping before it waits again.
        }
    }

    private void SetState(SocketState state, int attempt, string? detail = null)
    {
        // The states a reconnect storm cycles through share the storm's log budget; the others always log.
        var cycling = state is SocketState.Connecting or SocketState.Handshaking or SocketState.Waiting;
        if (Status.TrySetState(state, _time.GetUtcNow(), attempt, detail) && (!cycling || ShouldLogCycle()))
        {
            Log.StateChanged(_logger, Name, state, attempt, detail is null ? string.Empty : " " + detail);
        }
    }

    /// <summary>
    /// Connection-cycle lines (state changes, connect failed, closed, waiting) share one budget per
    /// socket: a socket reconnecting every 50 ms would otherwise log thousands of lines a minute.
    /// </summary>
    private bool ShouldLogCycle()
    {
        if (_cycleLog.ShouldLog(_time, out var suppressed))
        {
            if (suppressed > 0)
            {
                Log.CycleLinesSuppressed(_logger, Name, suppressed, LogThrottle.Interval);
            }

            return true;
        }

        return false;
    }
}
