namespace Gateway.Host.Transport;

/// <summary>The headers of a 101 answer that the handshake checks; repeated headers joined with commas.</summary>
internal readonly record struct UpgradeAnswer(string? Upgrade, string? Connection, string? Accept, string? SubProtocol, string? Extensions);
