namespace Gateway.Host.Health;

/// <summary>
/// One subscription of a socket (STOMP; a Phoenix topic), watched on its own: whether it is in place, what arrived
/// and when, how often it was renewed for being stale. Lives as long as the socket; each connection's
/// session updates it.
/// </summary>
internal sealed class SubscriptionStatus(string id, string destination)
{
    private long _messages;
    private long _resubscribes;
    private long _lastMessageTicks;
    private volatile string _state = "Pending";
    private volatile string? _lastError;
    private long _nextAttemptTicks;

    public string Id { get; } = id;

    public string Destination { get; } = destination;

    /// <summary>The socket is down or not subscribed yet.</summary>
    public void SetPending() => _state = "Pending";

    /// <summary>SUBSCRIBE went out on the current connection.</summary>
    public void SetSubscribed() => _state = "Subscribed";

    /// <summary>A protocol's own state (Phoenix: <c>Joining</c>, <c>Joined</c>); clears the next attempt.</summary>
    public void SetState(string state)
    {
        _state = state;
        Volatile.Write(ref _nextAttemptTicks, 0);
    }

    /// <summary>Refused or lost (Phoenix: a join error, <c>phx_error</c>): why, and when it is tried again.</summary>
    public void SetFailed(string error, DateTimeOffset nextAttempt)
    {
        _lastError = error;
        Volatile.Write(ref _nextAttemptTicks, nextAttempt.UtcTicks);
        _state = "Rejoining";
    }

    public void AddMessage(DateTimeOffset now)
    {
        Interlocked.Increment(ref _messages);
        Volatile.Write(ref _lastMessageTicks, now.UtcTicks);
    }

    public void AddResubscribe() => Interlocked.Increment(ref _resubscribes);

    public SubscriptionSnapshot Snapshot()
    {
        var last = Volatile.Read(ref _lastMessageTicks);
        var next = Volatile.Read(ref _nextAttemptTicks);
        return new SubscriptionSnapshot(Id, Destination, _state, Volatile.Read(ref _messages), last == 0 ? null : new DateTimeOffset(last, TimeSpan.Zero), Volatile.Read(ref _resubscribes))
        {
            LastError = _lastError,
            NextAttemptAt = next == 0 ? null : new DateTimeOffset(next, TimeSpan.Zero),
        };
    }
}

/// <summary>A subscription as health shows it.</summary>
internal sealed record SubscriptionSnapshot(string Id, string Destination, string State, long MessagesReceived, DateTimeOffset? LastMessageAt, long Resubscribes)
{
    /// <summary>The last refusal or failure (Phoenix: the join's error reason); kept after it recovered.</summary>
    public string? LastError { get; init; }

    /// <summary>When a failed subscription is tried again.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }
}
