using System.Text.Json.Nodes;

namespace Gateway.Host.Protocols;

/// <summary>A session that keeps who is present on its topics (Phoenix Presence), for the API.</summary>
internal interface IPresenceSource
{
    /// <summary>The topic's presence list (<c>synced</c>, <c>presences</c>); false if the socket has no such topic.</summary>
    bool TryGetPresence(string topic, out JsonObject? presence);
}
