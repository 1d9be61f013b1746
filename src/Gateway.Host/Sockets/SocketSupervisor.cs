using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Gateway.Host.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Sockets;

/// <summary>
/// Runs one <see cref="SocketConnection"/> per enabled socket and keeps the set in step with
/// configuration: added sockets start, removed ones close with 1001, changed ones restart, a change
/// of handlers alone applies in place, and untouched sockets are left alone. An invalid reload is
/// logged key by key and the last good configuration keeps running.
/// </summary>
internal sealed partial class SocketSupervisor : BackgroundService, ISocketDirectory
{
    // Fine enough for heart-beat deadlines of a second; cheap enough for 10,000 idle sockets.
    private static readonly TimeSpan s_watchdogInterval = TimeSpan.FromMilliseconds(250);
    private const int TrimEveryTicks = 4;

    private readonly IOptionsMonitor<GatewayOptions> _monitor;
    private readonly GatewayOptionsValidator _validator;
    private readonly IServiceProvider _services;
    private readonly WebSocketConnector _connector;
    private readonly GatewayMetrics _metrics;
    private readonly SocketHealthTracker _tracker;
    private readonly TimeProvider _time;
    private readonly SocketLoggers _socketLoggers;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SocketConnection> _connections = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, SocketStatus> _disabled = new(StringComparer.OrdinalIgnoreCase);
    private readonly TaskCompletionSource _hostStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<bool> _reloadSignal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile GatewayOptions _applied = new();
    private IDisposable? _subscription;
    private ConfigurationFileWatch? _fileWatch;
    private readonly CancellationTokenSource _watchdogStop = new();
    private Task _watchdog = Task.CompletedTask;

    // Cluster mode (Gateway:Cluster): only the sockets whose lease this replica holds run; null runs every socket.
    private readonly HashSet<string>? _admitted;
    private readonly Lock _admitLock = new();
    private readonly ConcurrentDictionary<SocketConnection, Task> _stops = new();
    private volatile GatewayOptions? _target;
    private readonly string? _replicaId;

    public SocketSupervisor(IOptionsMonitor<GatewayOptions> monitor, GatewayOptionsValidator validator, IServiceProvider services, WebSocketConnector connector, GatewayMetrics metrics, SocketHealthTracker tracker, TimeProvider time, ILoggerFactory loggerFactory, IHostApplicationLifetime lifetime)
    {
        // Sockets connect once the whole host is up (the demo socket's upstream is this host's own endpoint).
        lifetime.ApplicationStarted.Register(() => _hostStarted.TrySetResult());
        _monitor = monitor;
        _validator = validator;
        _services = services;
        _connector = connector;
        _metrics = metrics;
        _tracker = tracker;
        _time = time;
        _socketLoggers = new SocketLoggers(loggerFactory);
        _logger = loggerFactory.CreateLogger<SocketSupervisor>();
        if (monitor.CurrentValue.Cluster is not null)
        {
            _admitted = new(StringComparer.OrdinalIgnoreCase);
            _replicaId = monitor.CurrentValue.Cluster?.ReplicaId;
        }
    }

    /// <summary>Raised after each reload attempt, applied or rejected (for tests and diagnostics).</summary>
    public event Action<SocketOptionsDiff?>? ReloadProcessed;

    /// <summary>The configuration in force: the last one that passed validation.</summary>
    public GatewayOptions Current => _applied;

    public bool TryGet(string name, out SocketConnection connection) => _connections.TryGetValue(name, out connection!);

    ApiOptions ISocketDirectory.Api => _applied.Api;

    bool ISocketDirectory.TryGetSocket(string name, [MaybeNullWhen(false)] out SocketEntry socket)
    {
        if (_connections.TryGetValue(name, out var connection))
        {
            socket = Entry(connection);
            return true;
        }

        // In a cluster, a socket another replica runs exists too: sends to it are forwarded.
        if (_admitted is not null && _applied.Sockets.TryGetValue(name, out var options) && options.Enabled)
        {
            socket = new SocketEntry(_applied.Sockets.Keys.First(k => k.Equals(name, StringComparison.OrdinalIgnoreCase)), options.MaxMessageSize);
            return true;
        }

        socket = null;
        return false;
    }

    IReadOnlyList<SocketEntry> ISocketDirectory.Group(string group)
        => _admitted is null
            ? [.. MembersOf(group).Select(Entry)]
            : [.. _applied.Sockets
                .Where(s => s.Value.Enabled && s.Value.Groups.Contains(group, StringComparer.OrdinalIgnoreCase))
                .OrderBy(s => s.Key, StringComparer.Ordinal)
                .Select(s => new SocketEntry(s.Key, s.Value.MaxMessageSize))];

    /// <summary>
    /// Cluster mode: bounds the stop of a socket (a restart or removal by a configuration change), given the
    /// socket and the configured budget, so that it never outlasts the socket's lease.
    /// </summary>
    public Func<string, TimeSpan, TimeSpan>? StopBudget { get; set; }

    /// <summary>Cluster mode: this replica holds the socket's lease; it runs while configured and enabled.</summary>
    public void Admit(string name)
    {
        lock (_admitLock)
        {
            if (_admitted is null || !_admitted.Add(name))
            {
                return;
            }

            // A stop still under way (a restart, a removal) starts it itself when it is done, if it should.
            var options = _target ?? _applied;
            if (options.Sockets.TryGetValue(name, out var socket) && socket.Enabled && !_connections.ContainsKey(name) && !_stops.Keys.Any(c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
            {
                Start(name, socket);
            }
        }
    }

    /// <summary>
    /// Cluster mode: the lease is going; the socket stops within <paramref name="timeout"/> (drain, goodbye, close)
    /// and is not started again until admitted. Completes when no connection of that name is open here.
    /// </summary>
    public async Task RevokeAsync(string name, TimeSpan timeout)
    {
        Task[] pending;
        lock (_admitLock)
        {
            _admitted?.Remove(name);
            pending = [.. _stops.Where(s => s.Key.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(s => s.Value)];
        }

        // A stop already under way (a restart, a removal) has its own budget, at most ShutdownTimeout.
        await TakeAndStopAsync(name, timeout).ConfigureAwait(false);
        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    PresenceLookup ISocketDirectory.TryGetPresence(string name, string topic, out System.Text.Json.Nodes.JsonObject? presence)
    {
        presence = null;
        return TryGet(name, out var connection) ? connection.TryGetPresence(topic, out presence) : PresenceLookup.UnknownSocket;
    }

    Task<bool> ISocketDirectory.ReconnectAsync(string name)
        => _connections.TryGetValue(name, out var connection) ? connection.ReconnectAsync() : Task.FromResult(false);

    private static SocketEntry Entry(SocketConnection connection) => new(connection.Name, connection.Options.MaxMessageSize);

    /// <summary>The running sockets whose <c>Groups</c> contain <paramref name="group"/>, in name order.</summary>
    public IReadOnlyList<SocketConnection> MembersOf(string group)
        => [.. _connections.Values
            .Where(c => c.Options.Groups.Contains(group, StringComparer.OrdinalIgnoreCase))
            .OrderBy(c => c.Name, StringComparer.Ordinal)];

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // The first load fails startup (YARP: "Re-throw on the first time load to prevent app from starting").
        var options = _monitor.CurrentValue;
        var errors = _validator.GetErrors(options);
        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                Log.InvalidConfiguration(_logger, error);
            }

            throw new GatewayConfigurationException(errors);
        }

        await ApplyAsync(options).ConfigureAwait(false);

        if (_services.GetService<IConfiguration>() is { } configuration)
        {
            _fileWatch = new ConfigurationFileWatch(configuration, problem => Log.ConfigurationFileBroken(_logger, problem), file => Log.ConfigurationFileRepaired(_logger, file));
        }

        // OnChange only raises a signal; ExecuteAsync does the work, one reload at a time.
        _subscription = _monitor.OnChange((_, _) => _reloadSignal.Writer.TryWrite(true));
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The watchdog outlives this loop: keep-alive and heart-beat deadlines still run while the sockets stop.
        _watchdog = RunWatchdogAsync(_watchdogStop.Token);
        try
        {
            await foreach (var _ in _reloadSignal.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await ReloadAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        _fileWatch?.Dispose();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        var timeout = _applied.ShutdownTimeout;
        Log.Stopping(_logger, _connections.Count, timeout);
        await Task.WhenAll(_connections.Values.Select(c => StopConnectionAsync(c, timeout))).ConfigureAwait(false);
        await _watchdogStop.CancelAsync().ConfigureAwait(false);
        await _watchdog.ConfigureAwait(false);
    }

    private async Task ReloadAsync()
    {
        SocketOptionsDiff? diff = null;
        try
        {
            if (_fileWatch?.Broken is { } broken)
            {
                // That file's provider has dropped what it read: applying now would remove its sockets.
                Log.ReloadHeldBack(_logger, broken);
                return;
            }

            var next = _monitor.CurrentValue;
            var errors = _validator.GetErrors(next);
            if (errors.Count > 0)
            {
                foreach (var error in errors)
                {
                    Log.ReloadRejected(_logger, error);
                }

                return;
            }

            diff = await ApplyAsync(next).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Whatever went wrong, the sockets already running keep running.
            Log.ReloadFailed(_logger, ex);
        }
        finally
        {
            ReloadProcessed?.Invoke(diff);
        }
    }

    private async Task<SocketOptionsDiff> ApplyAsync(GatewayOptions next)
    {
        _target = next;
        var diff = SocketOptionsDiff.Compute(_applied.Sockets, next.Sockets);
        var timeout = next.ShutdownTimeout;
        var work = new List<Task>();
        foreach (var name in diff.Removed)
        {
            Log.SocketRemoved(_logger, name);
            work.Add(TakeAndStopAsync(name, timeout));
        }

        foreach (var name in diff.Changed)
        {
            Log.SocketChanged(_logger, name);
            work.Add(RestartAsync(name, next.Sockets[name], timeout));
        }

        foreach (var name in diff.SubscriptionsChanged)
        {
            Log.SubscriptionsChanged(_logger, name);
            if (_connections.TryGetValue(name, out var connection))
            {
                connection.UpdateSubscriptions(next.Sockets[name]);
            }
        }

        foreach (var name in diff.HandlersChanged)
        {
            Log.HandlersChanged(_logger, name, string.Join(", ", next.Sockets[name].Handlers));
            if (_connections.TryGetValue(name, out var connection))
            {
                connection.Dispatcher.UpdateHandlers(new HandlerPipeline(_services, next.Sockets[name].Handlers));
            }
        }

        foreach (var name in diff.Added)
        {
            Log.SocketAdded(_logger, name);
            StartIfAdmitted(name, next.Sockets[name]);
        }

        await Task.WhenAll(work).ConfigureAwait(false);
        ListDisabled(next);
        _applied = next;
        return diff;
    }

    /// <summary>Sockets with <c>Enabled: false</c> stay listed (health, <c>/sockets</c>) as Disabled.</summary>
    private void ListDisabled(GatewayOptions next)
    {
        foreach (var (name, socket) in next.Sockets)
        {
            if (!socket.Enabled && !_disabled.ContainsKey(name))
            {
                var url = socket.Url is { } configured ? UrlRedaction.ForDisplay(configured).ToString() : string.Empty;
                var status = new SocketStatus(name, socket.Protocol.ToString(), required: false, url) { Groups = socket.Groups };
                status.TrySetState(SocketState.Disabled, _time.GetUtcNow(), 0);
                _disabled[name] = status;
                _tracker.Add(status);
                Log.SocketDisabled(_logger, name);
            }
        }

        foreach (var (name, status) in _disabled)
        {
            if (!next.Sockets.TryGetValue(name, out var socket) || socket.Enabled)
            {
                // NOTE: Remove is safe within the foreach over a ConcurrentDictionary; the tracker keeps a running socket of that name.
                _disabled.TryRemove(name, out _);
                _tracker.Remove(status);
            }
        }
    }

    private async Task RestartAsync(string name, SocketOptions options, TimeSpan timeout)
    {
        await TakeAndStopAsync(name, timeout).ConfigureAwait(false);
        StartIfAdmitted(name, options);
    }

    private void StartIfAdmitted(string name, SocketOptions options)
    {
        lock (_admitLock)
        {
            if ((_admitted is null || _admitted.Contains(name)) && !_connections.ContainsKey(name))
            {
                Start(name, options);
            }
        }
    }

    private void Start(string name, SocketOptions options)
    {
        var pipeline = new HandlerPipeline(_services, options.Handlers);
        var encoder = _services.GetRequiredKeyedService<IOutboundEncoder>(options.Outbound.Encoder);
        var protocol = _services.GetRequiredKeyedService<IProtocol>(options.Protocol);
        var connection = new SocketConnection(name, options, protocol, pipeline, encoder, _connector, _metrics, _time, _socketLoggers, _hostStarted.Task);
        _connections[name] = connection;
        connection.Status.Owner = _replicaId;
        _tracker.Add(connection.Status);
        connection.Start();
    }

    /// <summary>
    /// Takes the socket's connection out of the running set and marks it stopping, in one step under
    /// the admission lock: <see cref="Admit"/> never starts a second connection while the old one closes.
    /// </summary>
    private Task TakeAndStopAsync(string name, TimeSpan timeout)
    {
        SocketConnection? connection;
        TaskCompletionSource stopped;
        lock (_admitLock)
        {
            if (!_connections.TryRemove(name, out connection))
            {
                return Task.CompletedTask;
            }

            stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _stops[connection] = stopped.Task;
        }

        if (StopBudget is { } budget)
        {
            timeout = budget(name, timeout);
        }

        return StopConnectionAsync(connection, timeout, stopped);
    }

    private async Task StopConnectionAsync(SocketConnection connection, TimeSpan timeout, TaskCompletionSource? stopped = null)
    {
        try
        {
            await connection.StopAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StopFailed(_logger, connection.Name, ex);
        }
        finally
        {
            _tracker.Remove(connection.Status);
            _stops.TryRemove(connection, out _);
            stopped?.TrySetResult();
        }
    }

    public override void Dispose()
    {
        _watchdogStop.Dispose();
        base.Dispose();
    }

    // One timer for all sockets, rather than one per connection, drives heart-beats, handshake and
    // reply deadlines and NoMessageTimeout, and once a second lets idle sockets release their
    // receive buffers.
    private async Task RunWatchdogAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_watchdogInterval, _time);
        var ticks = 0L;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var now = _time.GetTimestamp();
                var trim = ++ticks % TrimEveryTicks == 0;
                // The enumerator, not Values: Values takes every lock and copies 10,000 entries four times a second.
                foreach (var (_, connection) in _connections)
                {
                    connection.OnTick(now);
                    if (trim)
                    {
                        connection.Dispatcher.TrimIfIdle();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
