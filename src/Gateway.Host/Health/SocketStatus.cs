namespace Gateway.Host.Health;

/// <summary>
/// The live state of one socket, written by its worker and dispatcher and only read by health checks
/// and endpoints. Counters are written by a single thread each and read without locks.
/// </summary>
internal sealed class SocketStatus(string name, string protocol, bool required, string displayUrl)
{
    /// <summary>How many of the latest disconnects are kept (newest first in the snapshot).</summary>
    public const int RecentDisconnectCapacity = 5;

    private readonly Lock _lock = new();

    // A ring: the next slot to write is _recentCount % capacity. Made by the first disconnect (an idle socket has none).
    private DisconnectRecord[]? _recent;
    private long _recentCount;
    private SocketState _state = SocketState.Starting;
    private DateTimeOffset _since;
    private int _attempt;
    private string? _stateDetail;
    private DateTimeOffset? _lastConnectedAt;
    private long _reconnects;
    private FailingHandler? _failing;
    private int? _lastCloseStatus;
    private string? _lastCloseDescription;
    private string? _lastError;
    private string? _lastDisconnect;
    private string? _lastDisconnectReason;
    private string? _lastClosedBy;
    private int? _lastHttpStatus;
    private long _framesReceived;
    private long _framesSent;
    private long _framesDropped;
    private long _framesHandled;

    // Frames a sink settled, counted from the sinks' threads (Interlocked); the consumer's own count stays a plain write.
    private long _framesSettled;
    private long _bytesReceived;
    private long _bytesSent;
    private long _handlerErrors;

    public string Name { get; } = name;

    public string Protocol { get; } = protocol;

    public bool Required { get; } = required;

    /// <summary>Where it connects, without secrets; set once a path on this gateway (<c>/demo/ticks</c>) is resolved.</summary>
    public string Url { get; set; } = displayUrl;

    /// <summary>The socket's queue of frames for the handlers (an object, not a delegate: 64 B less per socket).</summary>
    public IDepth? Queue { get; set; }

    /// <summary>The socket's queue of messages to write.</summary>
    public IDepth? Outbound { get; set; }

    /// <summary>The number of frames waiting in the socket's queue.</summary>
    public int QueueDepth() => Queue?.Depth ?? 0;

    /// <summary>The number of messages waiting to be written to the socket.</summary>
    public int OutboundDepth() => Outbound?.Depth ?? 0;

    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>In a cluster, the replica that runs the socket (this one); null for a gateway alone.</summary>
    public string? Owner { get; set; }

    /// <summary>The protocol's subscriptions (STOMP), in configuration order; empty for raw sockets.</summary>
    public IReadOnlyList<SubscriptionStatus> Subscriptions { get => Volatile.Read(ref _subscriptions); set => Volatile.Write(ref _subscriptions, value); }

    private IReadOnlyList<SubscriptionStatus> _subscriptions = [];

    /// <summary>The WebSocket implementation in use (<c>Transport</c>).</summary>
    public string Transport { get; init; } = string.Empty;

    public long FramesReceived => Volatile.Read(ref _framesReceived);

    public long FramesDropped => Volatile.Read(ref _framesDropped);

    public long FramesHandled => Volatile.Read(ref _framesHandled) + Interlocked.Read(ref _framesSettled);

    public long FramesSent => Volatile.Read(ref _framesSent);

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public long BytesSent => Volatile.Read(ref _bytesSent);

    public long HandlerErrors => Volatile.Read(ref _handlerErrors);

    /// <summary>
    /// Told, outside the lock and on the worker's thread, of each state change, connection and
    /// disconnect (the status page's live updates); set by <see cref="SocketHealthTracker.Add"/>. Must not block.
    /// </summary>
    public Action<SocketStatus>? Changed { get; set; }

    /// <summary>Moves to <paramref name="state"/>; returns false if already there.</summary>
    /// <summary>Moves to <paramref name="state"/>; true when the state or its detail changed.</summary>
    public bool TrySetState(SocketState state, DateTimeOffset now, int attempt, string? detail = null)
    {
        bool changed;
        lock (_lock)
        {
            changed = _state != state || _stateDetail != detail;
            if (_state != state)
            {
                _state = state;
                _since = now;
            }

            _stateDetail = detail;
            _attempt = attempt;
        }

        if (changed)
        {
            Changed?.Invoke(this);
        }

        return changed;
    }

    /// <summary>A connection became Ready: the last error is cleared, and a reconnect counted.</summary>
    public void RecordConnected(DateTimeOffset now, bool isReconnect)
    {
        lock (_lock)
        {
            _lastError = null;
            _lastHttpStatus = null;
            _lastConnectedAt = now;
            if (isReconnect)
            {
                _reconnects++;
            }
        }

        Changed?.Invoke(this);
    }

    /// <summary>How the last connection ended; an end the gateway or the server did not choose is also the last error.</summary>
    public void RecordDisconnect(DisconnectReason reason, string label, string description, DateTimeOffset now)
    {
        lock (_lock)
        {
            _recent ??= new DisconnectRecord[RecentDisconnectCapacity];
            _recent[(int)(_recentCount++ % RecentDisconnectCapacity)] = new DisconnectRecord(now, label, description, (int?)reason.CloseStatus, Sockets.SocketConnection.ClosedBy(reason));
            _lastCloseStatus = (int?)reason.CloseStatus;
            _lastCloseDescription = reason.CloseDescription;
            _lastDisconnect = description;
            _lastDisconnectReason = label;
            _lastClosedBy = Sockets.SocketConnection.ClosedBy(reason);
            if (reason.Kind is not (DisconnectKind.ServerClosed or DisconnectKind.ReconnectRequested or DisconnectKind.Stopping))
            {
                _lastError = description;
                _lastHttpStatus = null;
            }
        }

        Changed?.Invoke(this);
    }

    public void RecordError(string error, int? httpStatus)
    {
        lock (_lock)
        {
            _lastError = error;
            _lastHttpStatus = httpStatus;
        }
    }

    /// <summary>A message was read. Written by the socket's receive loop only, so no interlocked operation on the hot path.</summary>
    public void AddReceived(int bytes)
    {
        Volatile.Write(ref _framesReceived, _framesReceived + 1);
        Volatile.Write(ref _bytesReceived, _bytesReceived + bytes);
    }

    /// <summary>Counts <paramref name="frames"/> received frames of <paramref name="bytes"/> in all (one writer: the receive loop).</summary>
    public void AddReceived(int frames, long bytes)
    {
        Volatile.Write(ref _framesReceived, _framesReceived + frames);
        Volatile.Write(ref _bytesReceived, _bytesReceived + bytes);
    }

    public void AddSent(int bytes)
    {
        Interlocked.Increment(ref _framesSent);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    /// <summary>A frame went through all its handlers (failed or not). Written by the dispatcher only.</summary>
    /// <summary>A frame went through its handlers; called by the socket's consumer loop only (one writer, no interlocked cost).</summary>
    public void AddHandled() => Volatile.Write(ref _framesHandled, _framesHandled + 1);

    /// <summary>A deferred frame was settled by its sink, from any thread.</summary>
    public void AddSettled() => Interlocked.Increment(ref _framesSettled);

    public void AddDropped() => Interlocked.Increment(ref _framesDropped);

    public void AddHandlerError() => Interlocked.Increment(ref _handlerErrors);

    /// <summary>A frame failed in <paramref name="handler"/>: the start of a failing streak, unless one is under way.</summary>
    public void RecordHandlerFailing(string handler, DateTimeOffset now)
    {
        if (Volatile.Read(ref _failing) is null)
        {
            Volatile.Write(ref _failing, new FailingHandler(handler, now));
        }
    }

    /// <summary>A frame went through every handler: no failing streak (one volatile read per frame while healthy).</summary>
    public void RecordHandlersSucceeded()
    {
        if (Volatile.Read(ref _failing) is not null)
        {
            Volatile.Write(ref _failing, null);
        }
    }

    public SocketStatusSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new SocketStatusSnapshot(
                Name, _state, _stateDetail, _since, Protocol, Transport, Required, Url, _attempt, _reconnects, _lastConnectedAt,
                _lastCloseStatus, _lastCloseDescription, _lastDisconnect, _lastDisconnectReason, _lastClosedBy, _lastError, _lastHttpStatus,
                FramesReceived, FramesHandled, FramesSent, QueueDepth(), FramesDropped, HandlerErrors, OutboundDepth(), Groups,
                Volatile.Read(ref _failing), Subscriptions.Count == 0 ? null : [.. Subscriptions.Select(s => s.Snapshot())], RecentDisconnects())
            {
                Owner = Owner,
            };
        }
    }

    /// <summary>The latest disconnects, newest first; null when there was none. Called under the lock.</summary>
    private DisconnectRecord[]? RecentDisconnects()
    {
        var count = (int)Math.Min(_recentCount, RecentDisconnectCapacity);
        if (count == 0 || _recent is null)
        {
            return null;
        }

        var recent = new DisconnectRecord[count];
        for (var i = 0; i < count; i++)
        {
            recent[i] = _recent[(int)((_recentCount - 1 - i) % RecentDisconnectCapacity)];
        }

        return recent;
    }
}

/// <summary>A point-in-time copy of <see cref="SocketStatus"/>, as served by the health endpoints.</summary>
internal sealed record SocketStatusSnapshot(
    string Name,
    SocketState State,
    string? StateDetail,
    DateTimeOffset Since,
    string Protocol,
    string Transport,
    bool Required,
    string Url,
    int ReconnectAttempt,
    long Reconnects,
    DateTimeOffset? LastConnectedAt,
    int? LastCloseStatus,
    string? LastCloseDescription,
    string? LastDisconnect,
    string? LastDisconnectReason,
    string? LastClosedBy,
    string? LastError,
    int? LastHttpStatus,
    long FramesReceived,
    long FramesHandled,
    long FramesSent,
    int QueueDepth,
    long FramesDropped,
    long HandlerErrors,
    int OutboundDepth,
    IReadOnlyList<string> Groups,
    FailingHandler? FailingHandler,
    IReadOnlyList<SubscriptionSnapshot>? Subscriptions = null,
    IReadOnlyList<DisconnectRecord>? RecentDisconnects = null)
{
    /// <summary>In a cluster, the replica that runs the socket; null for a gateway alone (and left out of the JSON).</summary>
    public string? Owner { get; init; }
}

/// <summary>One ended connection: when, the <c>gateway_reason</c> label, in words, the close code, and who closed.</summary>
internal sealed record DisconnectRecord(DateTimeOffset At, string Reason, string Description, int? CloseStatus, string ClosedBy);

/// <summary>Every frame since <paramref name="Since"/> failed in some handler; the first one to fail was <paramref name="Handler"/>.</summary>
internal sealed record FailingHandler(string Handler, DateTimeOffset Since);

/// <summary>Something with a depth to report in health and metrics: a socket's queue.</summary>
internal interface IDepth
{
    int Depth { get; }
}
