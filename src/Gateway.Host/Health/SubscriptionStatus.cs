namespace Gateway.Host.Health;

/// <summary>
/// One subscription of a socket (STOMP), watched on its own: whether it is in place, what arrived
/// and when, how often it was renewed for being stale. Lives as long as the socket; each connection's
/// session updates it.
/// </summary>
internal sealed class SubscriptionStatus(string id, string destination)
{
    private long _messages;
    private long _resubscribes;
    private long _lastMessageTicks;
    private volatile string _state = "Pending";

    public string Id { get; } = id;

    public string Destination { get; } = destination;

    /// <summary>The socket is down or not subscribed yet.</summary>
    public void SetPending() => _state = "Pending";

    /// <summary>SUBSCRIBE went out on the current connection.</summary>
    public void SetSubscribed() => _state = "Subscribed";

    public void AddMessage(DateTimeOffset now)
    {
        Interlocked.Increment(ref _messages);
        Volatile.Write(ref _lastMessageTicks, now.UtcTicks);
    }

    public void AddResubscribe() => Interlocked.Increment(ref _resubscribes);

    public SubscriptionSnapshot Snapshot()
    {
        var last = Volatile.Read(ref _lastMessageTicks);
        return new SubscriptionSnapshot(Id, Destination, _state, Volatile.Read(ref _messages), last == 0 ? null : new DateTimeOffset(last, TimeSpan.Zero), Volatile.Read(ref _resubscribes));
    }
}

/// <summary>A subscription as health shows it.</summary>
internal sealed record SubscriptionSnapshot(string Id, string Destination, string State, long MessagesReceived, DateTimeOffset? LastMessageAt, long Resubscribes);
