using System.Collections.Concurrent;

namespace Gateway.Host.Health;

/// <summary>The statuses of all running sockets; workers push in, health checks read.</summary>
internal sealed class SocketHealthTracker
{
    private readonly ConcurrentDictionary<string, SocketStatus> _sockets = new(StringComparer.OrdinalIgnoreCase);
    private readonly Action<SocketStatus> _onChanged;

    public SocketHealthTracker() => _onChanged = OnChanged;

    /// <summary>A socket was added or replaced, or its state changed (from the worker's thread; must not block).</summary>
    public event Action<SocketStatus>? Changed;

    /// <summary>A socket was removed (and not replaced by a newer status of the same name).</summary>
    public event Action<SocketStatus>? Removed;

    public void Add(SocketStatus status)
    {
        // One delegate for every socket, not one each.
        status.Changed = _onChanged;
        _sockets[status.Name] = status;
        Changed?.Invoke(status);
    }

    /// <summary>Removes <paramref name="status"/> unless a newer status for the same name replaced it.</summary>
    public void Remove(SocketStatus status)
    {
        if (_sockets.TryRemove(new KeyValuePair<string, SocketStatus>(status.Name, status)))
        {
            Removed?.Invoke(status);
        }
    }

    private void OnChanged(SocketStatus status) => Changed?.Invoke(status);

    public bool TryGet(string name, out SocketStatus status) => _sockets.TryGetValue(name, out status!);

    /// <summary>The live statuses, unordered (for metric collection).</summary>
    public ICollection<SocketStatus> Statuses() => _sockets.Values;

    public IReadOnlyList<SocketStatusSnapshot> Snapshot()
        => _sockets.Values.Select(s => s.Snapshot()).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
}
