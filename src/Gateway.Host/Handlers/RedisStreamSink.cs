using System.Globalization;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Host.Handlers;

/// <summary>
/// The built-in <c>redis-stream</c> sink: one <c>XADD &lt;Key&gt; MAXLEN ~ N * socket .. seq .. payload ..</c>
/// per frame. <see cref="HandleAsync"/> defers the frame, copies it into the entry and issues the
/// command without waiting for it (the multiplexer pipelines them in order over one connection);
/// the frame is settled when Redis answers: succeeded, or after a failure failed (<c>Fail</c>) or
/// retried with backoff until Redis takes it (<c>Retry</c>).
/// </summary>
/// <remarks>
/// While Redis is up, a socket's entries land in frame order. A retried entry lands after the ones
/// issued meanwhile, and an <c>XADD</c> whose answer was lost with its connection may have been
/// applied: under <c>Retry</c> a frame can be in the stream twice (same <c>socket</c> and <c>seq</c>),
/// so consumers that care deduplicate by those two fields.
/// </remarks>
internal sealed partial class RedisStreamSink : IFrameHandler, ISinkHealth, IAsyncDisposable, IDisposable
{
    public const string HandlerName = "redis-stream";

    internal static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly RedisStreamSinkOptions _options;
    private readonly FrameTemplate _key;
    private readonly ConfigurationOptions _configuration;
    private readonly long? _maxLength;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly LogThrottle _failureLog = new();
    private readonly CancellationTokenSource _stopping = new();

    // Every frame handed over and not yet settled: each leaves once (TryFinish), whichever path ends it first.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Publication, byte> _unsettled = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _connectLock = new();
    private ConnectionMultiplexer? _connection;
    private Task? _connecting;
    private List<Publication>? _waiting;
    private volatile SinkState _state = SinkState.Idle;
    private volatile string? _lastError;
    private long _inFlight;
    private long _confirmed;
    private long _failed;

    public RedisStreamSink(IOptions<RedisStreamSinkOptions> options, ILogger<RedisStreamSink> logger, TimeProvider timeProvider)
        : this(HandlerName, options.Value, logger, timeProvider)
    {
    }

    /// <summary>A sink called <paramref name="name"/>: the built-in one, or a named instance (<see cref="SinkInstances"/>).</summary>
    public RedisStreamSink(string name, RedisStreamSinkOptions options, ILogger<RedisStreamSink> logger, TimeProvider timeProvider)
    {
        Name = name;
        _options = options;
        _logger = logger;
        _timeProvider = timeProvider;
        _key = FrameTemplate.Parse(_options.Key);
        _maxLength = _options.MaxLength > 0 ? _options.MaxLength : null;
        _configuration = ConfigurationOptions.Parse(_options.Configuration);
        // Start without Redis and reconnect by itself: a frame waits in the multiplexer's backlog
        // (up to its syncTimeout, which bounds the backlog in 3.x, not asyncTimeout) rather than failing the gateway's startup.
        _configuration.AbortOnConnectFail = false;
        _configuration.ClientName ??= "gateway";
    }

    public string Name { get; }

    /// <summary>
    /// Counts for readiness once a socket uses the sink (it connected, or sent a frame): the sink is
    /// registered whether or not any socket lists it, and an unused sink must not fail <c>/health/ready</c>.
    /// </summary>
    public bool Required => _options.Required && Volatile.Read(ref _connecting) is not null;

    public SinkState State => _state;

    public string? LastError => _lastError;

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long Confirmed => Interlocked.Read(ref _confirmed);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The endpoints and options, password left out: what logs and errors may show.</summary>
    internal string DisplayConfiguration => _configuration.ToString(includePassword: false);

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        // Both are built now: the payload and headers are valid only until this call returns.
        RedisKey key = _key.Render(frame);
        var entry = CreateEntry(frame);
        FrameSettlement settlement;
        TaskSettlement? inline = null;
        try
        {
            settlement = frame.Defer();
        }
        catch (InvalidOperationException)
        {
            // A caller that cannot defer (no settler): the frame is handled when this call completes.
            settlement = inline = new TaskSettlement();
        }

        Publish(new Publication(key, entry, settlement));
        return inline is null ? ValueTask.CompletedTask : new ValueTask(inline.Task);
    }

    /// <summary>A socket that uses the sink connected: connect to Redis now, so health says Up before the first frame.</summary>
    public ValueTask OnConnectedAsync(UpstreamConnection connection, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is null)
        {
            lock (_connectLock)
            {
                if (!_stopping.IsCancellationRequested)
                {
                    _connecting ??= ConnectAsync();
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The stream entry: <c>socket</c>, <c>seq</c>, <c>connection</c>, <c>receivedAt</c> (ISO 8601),
    /// <c>kind</c> (<c>text</c>/<c>binary</c>), <c>payload</c> (the bytes as received), then one
    /// <c>h:&lt;name&gt;</c> field per header (the first value of a repeated name), W3C
    /// <c>traceparent</c> included.
    /// </summary>
    internal static NameValueEntry[] CreateEntry(in Frame frame)
    {
        var headers = frame.Headers.IsEmpty ? [] : frame.Headers.ToList();
        var unique = 0;
        for (var i = 0; i < headers.Count; i++)
        {
            unique += IsRepeat(headers, i) ? 0 : 1;
        }

        var entry = new NameValueEntry[6 + unique];
        entry[0] = new("socket", frame.SocketName);
        entry[1] = new("seq", frame.Sequence);
        entry[2] = new("connection", frame.ConnectionNumber);
        entry[3] = new("receivedAt", frame.ReceivedAt.ToString("O", CultureInfo.InvariantCulture));
        entry[4] = new("kind", frame.Kind == FrameKind.Text ? "text" : "binary");
        entry[5] = new("payload", frame.Payload.ToArray());
        for (int i = 0, next = 6; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            if (!IsRepeat(headers, i))
            {
                entry[next++] = new("h:" + name, value);
            }
        }

        return entry;
    }

    // Headers are few (a handful per frame): a scan beats a set.
    private static bool IsRepeat(IReadOnlyList<KeyValuePair<string, string>> headers, int index)
    {
        for (var j = 0; j < index; j++)
        {
            if (string.Equals(headers[j].Key, headers[index].Key, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Issues the frame's XADD now, or, before the multiplexer exists, queues it to be issued in
    /// arrival order once it does (awaiting the connect task would not keep that order: a task runs
    /// all but one of several awaiting continuations on the thread pool).
    /// </summary>
    private void Publish(Publication publication)
    {
        Interlocked.Increment(ref _inFlight);
        _unsettled[publication] = 0;
        var connection = Volatile.Read(ref _connection);
        if (connection is null)
        {
            lock (_connectLock)
            {
                connection = _connection;
                if (connection is null)
                {
                    if (_stopping.IsCancellationRequested)
                    {
                        Abandon(publication);
                        return;
                    }

                    (_waiting ??= []).Add(publication);
                    _connecting ??= ConnectAsync();
                    return;
                }
            }
        }

        _ = SendAsync(connection, publication);
    }

    /// <summary>Not awaited by its caller: the XADD is written before the first await yields, so the next frame's follows it.</summary>
    private async Task SendAsync(ConnectionMultiplexer connection, Publication publication)
    {
        var (key, entry, settlement) = publication;
        var delay = FirstRetryDelay < _options.MaxRetryDelay ? FirstRetryDelay : _options.MaxRetryDelay;
        while (true)
        {
            try
            {
                await connection.GetDatabase().StreamAddAsync(key, entry, maxLength: _maxLength, useApproximateMaxLength: _maxLength is not null).ConfigureAwait(false);
                if (TryFinish(publication))
                {
                    Interlocked.Increment(ref _confirmed);
                    settlement.Succeed();
                }

                return;
            }
            catch (Exception ex)
            {
                if (_stopping.IsCancellationRequested)
                {
                    break;
                }

                var error = Redact(ex.Message);
                _lastError = error;
                if (_options.OnFailure == SinkFailurePolicy.Fail)
                {
                    // The dispatcher logs and counts the failure as this handler's.
                    if (TryFinish(publication))
                    {
                        Interlocked.Increment(ref _failed);
                        settlement.Fail(ex);
                    }

                    return;
                }

                if (_failureLog.ShouldLog(_timeProvider, out var suppressed))
                {
                    Log.Retrying(_logger, Name, key.ToString(), delay, suppressed, error);
                }
            }

            try
            {
                await Task.Delay(delay, _timeProvider, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }

            delay = delay * 2 < _options.MaxRetryDelay ? delay * 2 : _options.MaxRetryDelay;
        }

        Abandon(publication);
    }

    /// <summary>The frame leaves the unsettled set; false if another path already settled it.</summary>
    private bool TryFinish(Publication publication)
    {
        if (!_unsettled.TryRemove(publication, out _))
        {
            return false;
        }

        Interlocked.Decrement(ref _inFlight);
        return true;
    }

    /// <summary>Stopped while the frame waited (for the connection or a retry), or its XADD was cut off by the stop.</summary>
    private void Abandon(Publication publication)
    {
        if (!TryFinish(publication))
        {
            return;
        }

        Interlocked.Increment(ref _failed);
        publication.Settlement.Fail(new OperationCanceledException($"XADD to {publication.Key} abandoned: the sink {Name} stopped."));
    }

    /// <summary>
    /// Creates the multiplexer (it then reconnects by itself), then issues the frames that waited for
    /// it, in order, before any later frame. Creation fails only on a configuration problem; the
    /// frames then fail (<c>Fail</c>) or wait for the next try (<c>Retry</c>).
    /// </summary>
    private async Task ConnectAsync()
    {
        await Task.Yield(); // called under _connectLock: connect outside it
        var delay = FirstRetryDelay < _options.MaxRetryDelay ? FirstRetryDelay : _options.MaxRetryDelay;
        while (true)
        {
            Log.Connecting(_logger, Name, DisplayConfiguration);
            try
            {
                var connection = await ConnectionMultiplexer.ConnectAsync(_configuration).ConfigureAwait(false);
                connection.ConnectionFailed += OnConnectionFailed;
                connection.ConnectionRestored += OnConnectionRestored;
                // Read after subscribing: a change in between is seen either here or by an event.
                var connected = connection.IsConnected;
                SetState(connected ? SinkState.Up : SinkState.Down, connected ? null : "the first connect failed; reconnecting");
                List<Publication>? waiting;
                lock (_connectLock)
                {
                    waiting = _waiting;
                    _waiting = null;
                    foreach (var publication in waiting ?? [])
                    {
                        _ = SendAsync(connection, publication);
                    }

                    // Frames that came meanwhile are behind the lock and go straight to it from now on.
                    Volatile.Write(ref _connection, connection);
                }

                return;
            }
            catch (Exception ex)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                _lastError = Redact(ex.Message);
                SetState(SinkState.Down, _lastError);
                if (_options.OnFailure == SinkFailurePolicy.Fail)
                {
                    FailWaiting(ex);
                }
            }

            try
            {
                await Task.Delay(delay, _timeProvider, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return; // DisposeAsync abandons the frames still waiting
            }

            delay = delay * 2 < _options.MaxRetryDelay ? delay * 2 : _options.MaxRetryDelay;
        }
    }

    private void FailWaiting(Exception ex)
    {
        List<Publication>? waiting;
        lock (_connectLock)
        {
            waiting = _waiting;
            _waiting = null;
        }

        foreach (var publication in waiting ?? [])
        {
            if (TryFinish(publication))
            {
                Interlocked.Increment(ref _failed);
                publication.Settlement.Fail(ex);
            }
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive)
        {
            return;
        }

        var error = Redact($"{e.FailureType} ({e.EndPoint}): {e.Exception?.Message}");
        _lastError = error;
        SetState(SinkState.Down, error);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            SetState(SinkState.Up, null);
        }
    }

    private void SetState(SinkState state, string? error)
    {
        if (_state == state)
        {
            return;
        }

        _state = state;
        if (state == SinkState.Up)
        {
            Log.Connected(_logger, Name, DisplayConfiguration);
        }
        else
        {
            Log.Disconnected(_logger, Name, DisplayConfiguration, error ?? _lastError ?? "unknown");
        }
    }

    /// <summary>The library's messages name endpoints and options, and once in a while the configuration: never the password.</summary>
    private string Redact(string message)
        => string.IsNullOrEmpty(_configuration.Password) ? message : message.Replace(_configuration.Password, "***", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        Task? connecting;
        List<Publication>? waiting;
        lock (_connectLock)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            _stopping.Cancel();
            connecting = _connecting;
            waiting = _waiting;
            _waiting = null;
        }

        foreach (var publication in waiting ?? [])
        {
            Abandon(publication);
        }

        if (connecting is not null)
        {
            await connecting.ConfigureAwait(false);
        }

        if (Volatile.Read(ref _connection) is { } connection)
        {
            connection.ConnectionFailed -= OnConnectionFailed;
            connection.ConnectionRestored -= OnConnectionRestored;
            try
            {
                // Entries already written get their answers (and their settlements) first.
                await connection.CloseAsync(allowCommandsToComplete: true).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // Lost anyway; the multiplexer still goes.
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }

        // XADDs the closed multiplexer never answered (a server that never came): abandoned now, not left hanging.
        foreach (var publication in _unsettled.Keys)
        {
            Abandon(publication);
        }

        _stopping.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>One frame's entry, copied out of the frame, and its settlement.</summary>
    private sealed record Publication(RedisKey Key, NameValueEntry[] Entry, FrameSettlement Settlement);

    /// <summary>The settlement of a frame whose caller could not defer it: HandleAsync awaits it.</summary>
    private sealed class TaskSettlement : FrameSettlement
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Task => _done.Task;

        public override void Succeed() => _done.TrySetResult();

        public override void Fail(Exception? exception = null) => _done.TrySetException(exception ?? new InvalidOperationException("The frame could not be added to the stream."));
    }

    private static partial class Log
    {
        [LoggerMessage(520, LogLevel.Information, "Sink {Sink} (redis-stream): connecting to {Configuration}.")]
        public static partial void Connecting(ILogger logger, string sink, string configuration);

        [LoggerMessage(521, LogLevel.Information, "Sink {Sink} (redis-stream): connected to {Configuration}.")]
        public static partial void Connected(ILogger logger, string sink, string configuration);

        [LoggerMessage(522, LogLevel.Warning, "Sink {Sink} (redis-stream): connection to {Configuration} lost: {Error}")]
        public static partial void Disconnected(ILogger logger, string sink, string configuration, string error);

        [LoggerMessage(523, LogLevel.Warning, "Sink {Sink} (redis-stream): XADD to {Key} failed, retrying in {Delay} ({Suppressed} more failures since the last line): {Error}")]
        public static partial void Retrying(ILogger logger, string sink, string key, TimeSpan delay, long suppressed, string error);
    }
}
