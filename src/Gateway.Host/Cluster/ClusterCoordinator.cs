using System.Threading.Channels;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Gateway.Host.Cluster;

/// <summary>
/// Decides which sockets run on this replica: renews its membership and leases every third of the
/// lease TTL, takes the lease of every socket that rendezvous hashing gives it, hands over the ones
/// it no longer owns (close, then release), and closes any socket whose lease it could not renew in
/// time, before that lease can expire (docs/operations.md#scale-out has the timing argument).
/// </summary>
/// <remarks>
/// Times are measured on this replica's monotonic clock from the moment a request was <em>sent</em>:
/// a lease renewed by a request sent at <c>t</c> is valid in Redis until at least <c>t + LeaseTtl</c>,
/// however long the answer took. The socket is closed by <c>t + </c><see cref="CloseBy"/>.
/// </remarks>
internal sealed partial class ClusterCoordinator : BackgroundService
{
    /// <summary>A renewal this late starts the close (a fraction of the lease TTL).</summary>
    public const double CloseAfterFraction = 0.6;

    /// <summary>The socket is closed (aborted if need be) by then (a fraction of the lease TTL); the rest is the margin for clock rates and scheduling.</summary>
    public const double CloseByFraction = 0.85;

    private static readonly TimeSpan s_slack = TimeSpan.FromMilliseconds(50);

    private readonly IClusterStore _store;
    private readonly IClusterSockets _sockets;
    private readonly Func<TimeSpan> _shutdownTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _ttl;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.OrdinalIgnoreCase);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _enforcementStop = new();
    private Task _enforcement = Task.CompletedTask;
    private IReadOnlyList<string> _members = [];
    private TimeSpan? _nextMemberExpiry;
    private long? _lastRenewed;
    private DateTimeOffset? _failingSince;
    private string? _lastError;
    private long _leasesLost;
    private DateTimeOffset? _quarantinedUntil;

    public ClusterCoordinator(IClusterStore store, IClusterSockets sockets, ClusterOptions options, Func<TimeSpan> shutdownTimeout, TimeProvider time, ILogger<ClusterCoordinator> logger)
    {
        _store = store;
        _sockets = sockets;
        _shutdownTimeout = shutdownTimeout;
        _time = time;
        _logger = logger;
        _ttl = options.LeaseTtl;
        ReplicaId = options.ReplicaId;
        sockets.Changed += Wake;
        sockets.LimitStops(StopBudget);
    }

    /// <summary>
    /// A stop may take <paramref name="budget"/>, but never past the socket's lease deadline as it stands
    /// now (renewals only move it later).
    /// </summary>
    public TimeSpan StopBudget(string name, TimeSpan budget)
    {
        lock (_lock)
        {
            if (!_leases.TryGetValue(name, out var lease))
            {
                return budget;
            }

            var left = CloseBy - _time.GetElapsedTime(lease.ValidFrom);
            return left < budget ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : budget;
        }
    }

    public string ReplicaId { get; }

    public TimeSpan LeaseTtl => _ttl;

    /// <summary>How often membership and leases are renewed.</summary>
    public TimeSpan RenewInterval => _ttl / 3;

    /// <summary>Without a renewal for this long, the socket starts closing.</summary>
    public TimeSpan CloseAfter => _ttl * CloseAfterFraction;

    /// <summary>Without a renewal for this long, the socket is closed.</summary>
    public TimeSpan CloseBy => _ttl * CloseByFraction;

    /// <summary>The live replicas at the last renewal, in id order.</summary>
    public IReadOnlyList<string> Members => _members;

    /// <summary>Leases lost without a handover (not renewed in time, or taken): each one closed its socket early.</summary>
    public long LeasesLost => Interlocked.Read(ref _leasesLost);

    /// <summary>The sockets this replica holds the lease of and runs (not those closing).</summary>
    public IReadOnlyList<string> Owned()
    {
        lock (_lock)
        {
            return [.. _leases.Values.Where(l => l.State == LeaseState.Held).Select(l => l.Name).Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>The cluster's state for the health check: null while renewals succeed, else since when and why they fail.</summary>
    public (DateTimeOffset Since, string Error, TimeSpan SinceLastRenewal)? Failure
    {
        get
        {
            lock (_lock)
            {
                return _failingSince is { } since && _lastError is { } error
                    ? (since, error, _lastRenewed is { } renewed ? _time.GetElapsedTime(renewed) : _time.GetUtcNow() - since)
                    : null;
            }
        }
    }

    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Completes when every close under way (handover, lost lease) has closed its socket and released its lease.</summary>
    public Task ClosingAsync()
    {
        lock (_lock)
        {
            return Task.WhenAll(_leases.Values.Select(l => l.Closing));
        }
    }

    /// <summary>
    /// One round: renew membership and leases, hand over the sockets another replica now owns, take the
    /// leases of the sockets this replica owns. Returns when the next round is due.
    /// </summary>
    public async Task<TimeSpan> TickAsync(CancellationToken cancellationToken)
    {
        var start = _time.GetTimestamp();
        Lease[] held;
        lock (_lock)
        {
            held = [.. _leases.Values.Where(l => l.State != LeaseState.Lost)];
        }

        Membership membership;
        bool[] renewed;
        try
        {
            membership = await _store.HeartbeatAsync(ReplicaId, _ttl, cancellationToken).ConfigureAwait(false);
            renewed = await _store.RenewAsync([.. held.Select(l => l.Held)], ReplicaId, _ttl, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            OnStoreFailure(ex);

            // Try again soon: a renewal that succeeds before CloseAfter keeps the sockets open.
            return RenewInterval / 2;
        }

        lock (_lock)
        {
            for (var i = 0; i < held.Length; i++)
            {
                var lease = held[i];
                if (!renewed[i])
                {
                    Log.LeaseLost(_logger, lease.Name, lease.Token);
                    BeginClose(lease, handover: false);
                }
                else if (lease.State != LeaseState.Lost)
                {
                    lease.ValidFrom = start;
                }
            }

            if (_failingSince is not null)
            {
                Log.StoreRecovered(_logger, _lastError ?? string.Empty);
            }

            _failingSince = null;
            _lastError = null;
            _lastRenewed = start;
            if (!_members.SequenceEqual(membership.Members, StringComparer.Ordinal))
            {
                Log.MembersChanged(_logger, ReplicaId, string.Join(", ", membership.Members));
            }

            _members = membership.Members;
            _nextMemberExpiry = membership.NextExpiry;
        }

        var members = membership.Members;
        var desired = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in _sockets.Configured)
        {
            if (Rendezvous.Owner(name, members) == ReplicaId)
            {
                desired.Add(name);
            }
        }

        List<string> wanted;
        lock (_lock)
        {
            foreach (var lease in _leases.Values)
            {
                if (lease.State == LeaseState.Held && !desired.Contains(lease.Name))
                {
                    Log.HandingOver(_logger, lease.Name, Rendezvous.Owner(lease.Name, members) ?? "nobody");
                    BeginClose(lease, handover: true);
                }
            }

            wanted = [.. desired.Where(name => !_leases.ContainsKey(name))];
        }

        var next = RenewInterval;
        if (wanted.Count > 0)
        {
            var attempts = await Task.WhenAll(wanted.Select(name => TryAcquireAsync(name, cancellationToken))).ConfigureAwait(false);
            var quarantineLogged = false;
            lock (_lock)
            {
                for (var i = 0; i < wanted.Count; i++)
                {
                    var attempt = attempts[i];
                    if (attempt is { Result: LeaseAttemptResult.Acquired })
                    {
                        // Valid from the round's start: earlier than Redis set it, so the deadlines are on the safe side.
                        var lease = new Lease(wanted[i], attempt.Value.Token) { ValidFrom = start };
                        _leases[lease.Name] = lease;
                        Log.LeaseAcquired(_logger, lease.Name, lease.Token);
                        _sockets.Open(lease.Name);
                    }
                    else if (attempt is { } waiting)
                    {
                        if (waiting.Result == LeaseAttemptResult.Quarantined && !quarantineLogged)
                        {
                            quarantineLogged = true;
                            var until = _time.GetUtcNow() + waiting.RetryAfter;
                            if (_quarantinedUntil is not { } known || until - known > RenewInterval)
                            {
                                Log.Quarantined(_logger, waiting.RetryAfter);
                            }

                            _quarantinedUntil = until;
                        }

                        next = Min(next, waiting.RetryAfter + s_slack);
                    }
                    else
                    {
                        next = Min(next, RenewInterval / 2);
                    }
                }
            }
        }

        // A member about to expire may leave sockets to this replica: look again right then.
        if (_nextMemberExpiry is { } expiry)
        {
            next = Min(next, expiry + s_slack);
        }

        var left = next - _time.GetElapsedTime(start);
        return left > s_slack ? left : s_slack;
    }

    /// <summary>
    /// Closes every socket whose lease was not renewed for <see cref="CloseAfter"/>, so that it is closed
    /// by <see cref="CloseBy"/>. No I/O: it works while Redis does not answer.
    /// </summary>
    public void EnforceDeadlines()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            foreach (var lease in _leases.Values)
            {
                if (lease.State == LeaseState.Held && _time.GetElapsedTime(lease.ValidFrom, now) >= CloseAfter)
                {
                    Log.RenewalOverdue(_logger, lease.Name, _time.GetElapsedTime(lease.ValidFrom, now));
                    BeginClose(lease, handover: false);
                }
            }
        }
    }

    /// <summary>Every socket closing or closed, leases released: what a clean stop does before leaving the cluster.</summary>
    public async Task ReleaseAllAsync()
    {
        Task[] closing;
        lock (_lock)
        {
            foreach (var lease in _leases.Values)
            {
                if (lease.State == LeaseState.Held)
                {
                    BeginClose(lease, handover: true);
                }
            }

            closing = [.. _leases.Values.Select(l => l.Closing)];
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _enforcement = RunEnforcementAsync(_enforcementStop.Token);
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                delay = await TickAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Never leave ExecuteAsync: the deadlines still close what cannot be renewed.
                Log.TickFailed(_logger, ex);
                delay = RenewInterval / 2;
            }

            await WaitAsync(delay, stoppingToken).ConfigureAwait(false);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReleaseAllAsync().ConfigureAwait(false);
            await _store.LeaveAsync(ReplicaId, cancellationToken).ConfigureAwait(false);
            Log.Left(_logger, ReplicaId);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            // The membership expires by itself within the lease TTL.
            OnStoreFailure(ex);
        }
        finally
        {
            await _enforcementStop.CancelAsync().ConfigureAwait(false);
            await _enforcement.ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _enforcementStop.Dispose();
        base.Dispose();
    }

    private async Task<LeaseAttempt?> TryAcquireAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await _store.AcquireAsync(name, ReplicaId, _ttl, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            OnStoreFailure(ex);
            return null;
        }
    }

    /// <summary>Called under the lock. A handover may use ShutdownTimeout, but never past the lease's deadline.</summary>
    private void BeginClose(Lease lease, bool handover)
    {
        if (lease.State != LeaseState.Held)
        {
            // Already closing: that close was bounded by the deadline of its time, which only moved later since.
            lease.State = handover ? lease.State : LeaseState.Lost;
            return;
        }

        lease.State = handover ? LeaseState.HandingOver : LeaseState.Lost;
        if (!handover)
        {
            Interlocked.Increment(ref _leasesLost);
        }

        var budget = CloseBy - _time.GetElapsedTime(lease.ValidFrom);
        if (handover && _shutdownTimeout() < budget)
        {
            budget = _shutdownTimeout();
        }

        lease.Closing = CloseAndReleaseAsync(lease, budget > TimeSpan.Zero ? budget : TimeSpan.Zero);
    }

    private async Task CloseAndReleaseAsync(Lease lease, TimeSpan budget)
    {
        await Task.Yield();
        try
        {
            await _sockets.CloseAsync(lease.Name, budget).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.CloseFailed(_logger, lease.Name, ex);
        }

        try
        {
            // Compare-and-delete: harmless when the lease is someone else's by now.
            await _store.ReleaseAsync(lease.Held, ReplicaId, CancellationToken.None).ConfigureAwait(false);
            Log.LeaseReleased(_logger, lease.Name, lease.Token);
        }
        catch (Exception ex) when (IsStoreFailure(ex, CancellationToken.None))
        {
            // It expires by itself.
        }

        lock (_lock)
        {
            if (_leases.TryGetValue(lease.Name, out var current) && ReferenceEquals(current, lease))
            {
                _leases.Remove(lease.Name);
            }
        }

        Wake();
    }

    private void OnStoreFailure(Exception ex)
    {
        lock (_lock)
        {
            if (_failingSince is null)
            {
                _failingSince = _time.GetUtcNow();
                Log.StoreFailing(_logger, ex.Message, CloseAfter);
            }

            _lastError = ex.Message;
        }
    }

    private static bool IsStoreFailure(Exception ex, CancellationToken cancellationToken)
        => ex is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private async Task RunEnforcementAsync(CancellationToken stoppingToken)
    {
        // Fine enough that the close starts within a twentieth of the TTL of CloseAfter.
        var period = TimeSpan.FromTicks(Math.Clamp(_ttl.Ticks / 20, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        using var timer = new PeriodicTimer(period, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                EnforceDeadlines();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WaitAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var woken = _wake.Reader.WaitToReadAsync(either.Token).AsTask();
        var elapsed = Task.Delay(delay, _time, either.Token);
        await Task.WhenAny(woken, elapsed).ConfigureAwait(false);
        await either.CancelAsync().ConfigureAwait(false);
        _wake.Reader.TryRead(out _);
        try
        {
            await Task.WhenAll(woken, elapsed).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private enum LeaseState
    {
        Held,
        HandingOver,
        Lost,
    }

    private sealed class Lease(string name, long token)
    {
        public string Name { get; } = name;

        public long Token { get; } = token;

        public HeldLease Held => new(Name, Token);

        /// <summary>When the request that last set or renewed it was sent (this replica's timestamp).</summary>
        public long ValidFrom { get; set; }

        public LeaseState State { get; set; }

        public Task Closing { get; set; } = Task.CompletedTask;
    }
}
