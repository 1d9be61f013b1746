using System.Collections.Concurrent;

namespace Gateway;

/// <summary>One connection of a socket, from a successful connect to its disconnect.</summary>
/// <remarks>
/// A new instance is created for every connection, so <see cref="Items"/> starts empty after each
/// reconnect. Handlers may read and write <see cref="Items"/> from any thread.
/// </remarks>
public sealed class UpstreamConnection
{
    private ConcurrentDictionary<string, object?>? _items;

    /// <summary>Creates a connection description.</summary>
    public UpstreamConnection(string socketName, long number, Uri url, string? subProtocol, DateTimeOffset connectedAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketName);
        ArgumentNullException.ThrowIfNull(url);
        SocketName = socketName;
        Number = number;
        Url = url;
        SubProtocol = subProtocol;
        ConnectedAt = connectedAt;
    }

    /// <summary>The configured name of the socket.</summary>
    public string SocketName { get; }

    /// <summary>The connection number within the socket: 1 for the first connection, then one more per reconnect.</summary>
    public long Number { get; }

    /// <summary>The upstream URL, with credentials and query removed.</summary>
    public Uri Url { get; }

    /// <summary>The subprotocol the server selected, if any.</summary>
    public string? SubProtocol { get; }

    /// <summary>When the WebSocket handshake completed.</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>Per-connection state shared by the socket's handlers; reset on every new connection.</summary>
    /// <remarks>Created on first use, so connections whose handlers keep no state pay nothing for it.</remarks>
    public ConcurrentDictionary<string, object?> Items
    {
        get
        {
            var items = Volatile.Read(ref _items);
            return items ?? Interlocked.CompareExchange(ref _items, new(StringComparer.Ordinal), null) ?? _items;
        }
    }
}
