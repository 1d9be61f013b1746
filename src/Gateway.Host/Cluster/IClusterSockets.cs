namespace Gateway.Host.Cluster;

/// <summary>The sockets as the cluster coordinator sees them: which are configured, and opening or closing one here.</summary>
internal interface IClusterSockets
{
    /// <summary>The enabled sockets of the configuration in force.</summary>
    IReadOnlyCollection<string> Configured { get; }

    /// <summary>The configuration changed (a socket added, removed or enabled).</summary>
    event Action? Changed;

    /// <summary>Runs the socket here (this replica holds its lease).</summary>
    void Open(string name);

    /// <summary>Bounds every stop of a socket here (a restart by a configuration change too): given the socket and the budget it would have, the budget it gets.</summary>
    void LimitStops(Func<string, TimeSpan, TimeSpan> budget);

    /// <summary>Stops the socket here within <paramref name="timeout"/> (drain, goodbye, close; aborted at the end); completes when it is closed.</summary>
    Task CloseAsync(string name, TimeSpan timeout);
}
