namespace Gateway.Host.Cluster;

/// <summary>
/// Where replicas meet: memberships and socket leases with expiry, kept by a server (Redis) whose
/// clock alone decides when they expire. Every call may throw when the server cannot be reached.
/// </summary>
internal interface IClusterStore
{
    /// <summary>Renews <paramref name="replicaId"/>'s membership for <paramref name="ttl"/>, drops expired ones, and returns the live members.</summary>
    Task<Membership> HeartbeatAsync(string replicaId, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Takes the socket's lease for <paramref name="ttl"/> if nobody holds it, with a new fencing token.</summary>
    Task<LeaseAttempt> AcquireAsync(string socket, string replicaId, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Extends each lease still held with its token to <paramref name="ttl"/> from now; false for each one lost.</summary>
    Task<bool[]> RenewAsync(IReadOnlyList<HeldLease> leases, string replicaId, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Gives the lease up if it is still held with <paramref name="lease"/>'s token.</summary>
    Task ReleaseAsync(HeldLease lease, string replicaId, CancellationToken cancellationToken);

    /// <summary>Ends <paramref name="replicaId"/>'s membership now (a clean shutdown).</summary>
    Task LeaveAsync(string replicaId, CancellationToken cancellationToken);

    /// <summary>Who holds each socket's lease (null: nobody), in the order asked.</summary>
    Task<string?[]> OwnersAsync(IReadOnlyList<string> sockets, CancellationToken cancellationToken);
}

/// <summary>The live members, and how long until the first of them expires unless renewed.</summary>
internal sealed record Membership(IReadOnlyList<string> Members, TimeSpan? NextExpiry);

/// <summary>A lease this replica holds: the socket and the fencing token it got it with.</summary>
internal readonly record struct HeldLease(string Socket, long Token);

internal enum LeaseAttemptResult
{
    /// <summary>Taken, with <see cref="LeaseAttempt.Token"/>.</summary>
    Acquired,

    /// <summary>Someone holds it for <see cref="LeaseAttempt.RetryAfter"/> more at most, unless renewed.</summary>
    Held,

    /// <summary>
    /// The store lost its state (restarted, failed over) less than one lease TTL ago: a replica that
    /// held a lease then may still have its socket open until its own deadline, so nobody takes any
    /// lease before <see cref="LeaseAttempt.RetryAfter"/>.
    /// </summary>
    Quarantined,
}

internal readonly record struct LeaseAttempt(LeaseAttemptResult Result, long Token, TimeSpan RetryAfter);
