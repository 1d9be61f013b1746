using Gateway.Host.Cluster;

namespace Gateway.Host.Tests.Cluster;

/// <summary>
/// The semantics of <see cref="RedisClusterStore"/>'s scripts in memory, on the test's clock (the
/// "server clock"): memberships and leases expire by it; <see cref="Restart"/> loses everything, as a
/// Redis without persistence does; <see cref="Unreachable"/> makes every call throw.
/// </summary>
internal sealed class InMemoryClusterStore(TimeProvider time) : IClusterStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Replica, long Token, DateTimeOffset Expiry)> _leases = new(StringComparer.OrdinalIgnoreCase);
    private long _fence;
    private int _runId = 1;
    private int? _epoch;
    private DateTimeOffset _quarantineUntil;

    public bool Unreachable { get; set; }

    /// <summary>Who holds each lease now, by the server's clock.</summary>
    public string? Holder(string socket)
    {
        lock (_lock)
        {
            return _leases.TryGetValue(socket, out var lease) && lease.Expiry > time.GetUtcNow() ? lease.Replica : null;
        }
    }

    /// <summary>When the socket's lease expires unless renewed.</summary>
    public DateTimeOffset? Expiry(string socket)
    {
        lock (_lock)
        {
            return _leases.TryGetValue(socket, out var lease) ? lease.Expiry : null;
        }
    }

    /// <summary>Gives the lease to <paramref name="replica"/> behind its holder's back (an operator's mistake, another cluster of the same name).</summary>
    public void Steal(string socket, string replica, TimeSpan ttl)
    {
        lock (_lock)
        {
            _leases[socket] = (replica, ++_fence, time.GetUtcNow() + ttl);
        }
    }

    public void Restart()
    {
        lock (_lock)
        {
            _members.Clear();
            _leases.Clear();
            _fence = 0;
            _epoch = null;
            _runId++;
        }
    }

    public Task<Membership> HeartbeatAsync(string replicaId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ThrowIfUnreachable();
            var now = time.GetUtcNow();
            foreach (var expired in _members.Where(m => m.Value <= now).Select(m => m.Key).ToList())
            {
                _members.Remove(expired);
            }

            _members[replicaId] = now + ttl;
            var others = _members.Where(m => m.Key != replicaId).Select(m => m.Value - now).ToList();
            return Task.FromResult(new Membership([.. _members.Keys.Order(StringComparer.Ordinal)], others.Count == 0 ? null : others.Min()));
        }
    }

    public Task<LeaseAttempt> AcquireAsync(string socket, string replicaId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ThrowIfUnreachable();
            var now = time.GetUtcNow();
            if (_epoch != _runId)
            {
                _epoch = _runId;
                _quarantineUntil = now + ttl;
                return Task.FromResult(new LeaseAttempt(LeaseAttemptResult.Quarantined, 0, ttl));
            }

            if (_quarantineUntil > now)
            {
                return Task.FromResult(new LeaseAttempt(LeaseAttemptResult.Quarantined, 0, _quarantineUntil - now));
            }

            if (_leases.TryGetValue(socket, out var lease) && lease.Expiry > now)
            {
                return Task.FromResult(new LeaseAttempt(LeaseAttemptResult.Held, 0, lease.Expiry - now));
            }

            var token = ++_fence;
            _leases[socket] = (replicaId, token, now + ttl);
            return Task.FromResult(new LeaseAttempt(LeaseAttemptResult.Acquired, token, TimeSpan.Zero));
        }
    }

    public Task<bool[]> RenewAsync(IReadOnlyList<HeldLease> leases, string replicaId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ThrowIfUnreachable();
            var now = time.GetUtcNow();
            var result = new bool[leases.Count];
            for (var i = 0; i < leases.Count; i++)
            {
                if (_leases.TryGetValue(leases[i].Socket, out var lease) && lease.Expiry > now && lease.Replica == replicaId && lease.Token == leases[i].Token)
                {
                    _leases[leases[i].Socket] = lease with { Expiry = now + ttl };
                    result[i] = true;
                }
            }

            return Task.FromResult(result);
        }
    }

    public Task ReleaseAsync(HeldLease lease, string replicaId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ThrowIfUnreachable();
            if (_leases.TryGetValue(lease.Socket, out var held) && held.Replica == replicaId && held.Token == lease.Token)
            {
                _leases.Remove(lease.Socket);
            }

            return Task.CompletedTask;
        }
    }

    public Task LeaveAsync(string replicaId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ThrowIfUnreachable();
            _members.Remove(replicaId);
            return Task.CompletedTask;
        }
    }

    public Task<string?[]> OwnersAsync(IReadOnlyList<string> sockets, CancellationToken cancellationToken)
    {
        ThrowIfUnreachable();
        return Task.FromResult(sockets.Select(Holder).ToArray());
    }

    private void ThrowIfUnreachable()
    {
        if (Unreachable)
        {
            throw new TimeoutException("test: Redis unreachable");
        }
    }
}
