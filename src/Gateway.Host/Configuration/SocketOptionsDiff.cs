namespace Gateway.Host.Configuration;

/// <summary>What a reload changes, socket by socket (YARP's <c>UpdateRuntimeClusters</c>).</summary>
internal sealed record SocketOptionsDiff(
    IReadOnlyList<string> Added,
    IReadOnlyList<string> Removed,
    IReadOnlyList<string> Changed,
    IReadOnlyList<string> HandlersChanged)
{
    /// <summary>Sockets whose protocol subscriptions (STOMP) changed, and nothing else that needs a reconnect: applied on the open connection.</summary>
    public IReadOnlyList<string> SubscriptionsChanged { get; init; } = [];

    public bool IsEmpty => Added.Count == 0 && Removed.Count == 0 && Changed.Count == 0 && HandlersChanged.Count == 0 && SubscriptionsChanged.Count == 0;

    /// <summary>Compares the enabled sockets of two configurations by name.</summary>
    public static SocketOptionsDiff Compute(IReadOnlyDictionary<string, SocketOptions> before, IReadOnlyDictionary<string, SocketOptions> after)
    {
        List<string> added = [], removed = [], changed = [], handlersChanged = [], subscriptionsChanged = [];
        foreach (var (name, next) in after)
        {
            if (!next.Enabled)
            {
                continue;
            }

            if (!before.TryGetValue(name, out var previous) || !previous.Enabled)
            {
                added.Add(name);
            }
            else if (!ConnectionSettingsEqual(previous, next))
            {
                changed.Add(name);
            }
            else
            {
                if (!previous.Handlers.SequenceEqual(next.Handlers, StringComparer.Ordinal))
                {
                    handlersChanged.Add(name);
                }

                if (!OptionsStructure.Equal(previous.Stomp.Subscriptions, next.Stomp.Subscriptions)
                    || !OptionsStructure.Equal(previous.Phoenix.Topics, next.Phoenix.Topics))
                {
                    subscriptionsChanged.Add(name);
                }
            }
        }

        foreach (var (name, previous) in before)
        {
            if (previous.Enabled && (!after.TryGetValue(name, out var next) || !next.Enabled))
            {
                removed.Add(name);
            }
        }

        return new SocketOptionsDiff(added, removed, changed, handlersChanged) { SubscriptionsChanged = subscriptionsChanged };
    }

    /// <summary>Whether two sockets differ in anything but their handlers and subscriptions (which apply without reconnecting).</summary>
    /// <remarks>
    /// Compares key by key (<see cref="OptionsStructure"/>), so that every present and future key, nested or a
    /// collection, takes part without a hand-written Equals to keep in step; header names and order carry no meaning.
    /// </remarks>
    internal static bool ConnectionSettingsEqual(SocketOptions a, SocketOptions b)
        => OptionsStructure.EqualExcept(a, b, nameof(SocketOptions.Handlers), nameof(SocketOptions.Stomp), nameof(SocketOptions.Phoenix))
            && OptionsStructure.EqualExcept(a.Stomp, b.Stomp, nameof(StompOptions.Subscriptions))
            && OptionsStructure.EqualExcept(a.Phoenix, b.Phoenix, nameof(PhoenixOptions.Topics));
}
