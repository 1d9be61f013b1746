using System.Diagnostics.CodeAnalysis;
using Gateway.Host.Configuration;

namespace Gateway.Host.Sockets;

/// <summary>The small read model the HTTP endpoints use: which sockets exist, their limits, groups, and a reconnect.</summary>
internal interface ISocketDirectory
{
    /// <summary>The API settings of the configuration in force.</summary>
    ApiOptions Api { get; }

    /// <summary>The running socket called <paramref name="name"/>, if any, with its send size limit.</summary>
    bool TryGetSocket(string name, [MaybeNullWhen(false)] out SocketEntry socket);

    /// <summary>The running sockets whose <c>Groups</c> contain <paramref name="group"/>, in name order.</summary>
    IReadOnlyList<SocketEntry> Group(string group);

    /// <summary>A topic's presence list on the socket's open connection (Phoenix).</summary>
    PresenceLookup TryGetPresence(string name, string topic, out System.Text.Json.Nodes.JsonObject? presence);

    /// <summary>Closes the socket's connection and connects again at once; false when it has no open connection.</summary>
    Task<bool> ReconnectAsync(string name);
}

/// <summary>What a presence lookup found.</summary>
internal enum PresenceLookup
{
    Found,
    UnknownSocket,
    UnknownTopic,
    NotConnected,
}

/// <summary>A running socket as the endpoints see it.</summary>
internal sealed record SocketEntry(string Name, int MaxMessageSize);
