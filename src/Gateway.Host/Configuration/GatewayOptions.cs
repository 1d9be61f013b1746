namespace Gateway.Host.Configuration;

/// <summary>The <c>Gateway</c> section, with <c>Defaults</c> already applied to each socket.</summary>
internal sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    public Dictionary<string, SocketOptions> Sockets { get; } = new(StringComparer.OrdinalIgnoreCase);

    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public ApiOptions Api { get; } = new();

    public StatusPageOptions StatusPage { get; } = new();

    /// <summary><c>Gateway:Cluster</c>; null when absent: the gateway runs alone.</summary>
    public ClusterOptions? Cluster { get; set; }

    /// <summary>Problems found while binding (unknown keys, unconvertible values), each naming its key.</summary>
    public List<string> BindErrors { get; } = [];
}
