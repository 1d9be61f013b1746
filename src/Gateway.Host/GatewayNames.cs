namespace Gateway.Host;

/// <summary>Who registered which handler, encoder and connect hook name: each name once per kind, across the gateway, the application and every plug-in.</summary>
internal sealed class GatewayNames
{
    public const string FrameHandler = "frame handler";
    public const string OutboundEncoder = "outbound encoder";
    public const string ConnectHook = "connect hook";

    // Names are keys of keyed services, which compare them ordinally (case-sensitive).
    private readonly Dictionary<(string Kind, string Name), string> _owners = [];

    public void Claim(string kind, string name, string owner)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_owners.TryAdd((kind, name), owner))
        {
            throw new InvalidOperationException($"the {kind} name '{name}' is already registered by {_owners[(kind, name)]}");
        }
    }

    public bool IsClaimed(string kind, string name) => _owners.ContainsKey((kind, name));

    /// <summary>The names of one kind that <paramref name="owner"/> registered, in order.</summary>
    public IReadOnlyList<string> OwnedBy(string owner, string kind)
        => [.. _owners.Where(e => e.Key.Kind == kind && e.Value == owner).Select(e => e.Key.Name)];
}
