namespace Gateway.Testing;

/// <summary>
/// The transport every test host and gateway process uses unless a test sets
/// <c>Gateway:Defaults:Transport</c> itself: the real-socket suite runs once per transport
/// (<c>Gateway.IntegrationTests</c> on the default, <c>Gateway.IntegrationTests.ClientWebSocket</c>
/// on the fallback).
/// </summary>
public static class TestTransport
{
    public const string Key = "Gateway:Defaults:Transport";

    /// <summary><c>Gateway</c> (the default) or <c>ClientWebSocket</c>; set once, by a module initializer.</summary>
    public static string Name { get; set; } = "Gateway";

    public static bool IsClientWebSocket => Name == "ClientWebSocket";

    /// <summary>The configuration with the transport added, unless it names one.</summary>
    public static IDictionary<string, string?> Apply(IDictionary<string, string?> configuration)
    {
        if (!configuration.ContainsKey(Key))
        {
            configuration = new Dictionary<string, string?>(configuration, StringComparer.OrdinalIgnoreCase) { [Key] = Name };
        }

        return configuration;
    }
}
