using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// The upstream of every socket of a cluster test: one WebSocket server whose path names the socket
/// (<c>/ws/&lt;name&gt;</c>), recording every connection with the moment it opened and the moment it
/// closed, as the server saw them.
/// </summary>
internal sealed class ConnectionLedger : IAsyncDisposable
{
    private readonly ConcurrentQueue<Connection> _connections = new();

    private ConnectionLedger(UpstreamServer server) => Server = server;

    public UpstreamServer Server { get; }

    public static async Task<ConnectionLedger> StartAsync()
    {
        ConnectionLedger? ledger = null;
        var server = await UpstreamServer.StartAsync(async session =>
        {
            var socket = session.Context.Request.Path.Value!["/ws/".Length..];
            var connection = new Connection(socket, session, Stopwatch.GetTimestamp());
            ledger!._connections.Enqueue(connection);
            await session.Closed;
            connection.ClosedAt = Stopwatch.GetTimestamp();
        });
        ledger = new ConnectionLedger(server);
        return ledger;
    }

    public Uri Url(string socket) => Server.Url($"/ws/{socket}");

    public IReadOnlyList<Connection> Connections => [.. _connections];

    public IReadOnlyList<Connection> Of(string socket) => [.. _connections.Where(c => c.Socket == socket).OrderBy(c => c.OpenedAt)];

    /// <summary>The sockets with an open connection now, each with how many.</summary>
    public Dictionary<string, int> OpenNow()
        => _connections.Where(c => c.ClosedAt is null).GroupBy(c => c.Socket).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Every moment two connections of one socket were open at once, described; empty when none.</summary>
    public List<string> Overlaps()
    {
        var overlaps = new List<string>();
        foreach (var socket in _connections.Select(c => c.Socket).Distinct())
        {
            var connections = Of(socket);
            for (var i = 1; i < connections.Count; i++)
            {
                var previous = connections[i - 1];
                if (previous.ClosedAt is not { } closed || closed > connections[i].OpenedAt)
                {
                    overlaps.Add($"{socket}: connection {connections[i].Session.Number} opened while {previous.Session.Number} was open");
                }
            }
        }

        return overlaps;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();

    public sealed class Connection(string socket, UpstreamSession session, long openedAt)
    {
        public string Socket { get; } = socket;

        public UpstreamSession Session { get; } = session;

        public long OpenedAt { get; } = openedAt;

        public long? ClosedAt { get; set; }

        /// <summary>The gateway closed it with a close handshake (1001), rather than dropping it.</summary>
        public bool ClosedGracefully => Session.ClientCloseStatus == WebSocketCloseStatus.EndpointUnavailable;
    }
}
