using System.Collections.Concurrent;

namespace Gateway.Host.Health;

/// <summary>The statuses of all running sockets; workers push in, health checks read.</summary>
internal sealed class SocketHealthTracker
{
    private readonly ConcurrentDictionary<string, SocketStatus> _sockets = new(StringComparer.OrdinalIgnoreCase);

    public void Add(SocketStatus status) => _sockets[status.Name] = status;

    /// <summary>Removes <paramref name="status"/> unless a newer status for the same name replaced it.</summary>
    public void Remove(SocketStatus status) => _sockets.TryRemove(new KeyValuePair<string, SocketStatus>(status.Name, status));

    public bool TryGet(string name, out SocketStatus status) => _sockets.TryGetValue(name, out status!);

    /// <summary>The live statuses, unordered (for metric collection).</summary>
    public ICollection<SocketStatus> Statuses() => _sockets.Values;

    public IReadOnlyList<SocketStatusSnapshot> Snapshot()
        => _sockets.Values.Select(s => s.Snapshot()).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
}
