namespace Gateway.Host.Plugins;

/// <summary>A plug-in that loaded and registered itself: what <c>GET /plugins</c> lists and the startup log tells.</summary>
internal sealed record LoadedPlugin(
    string Name,
    string Assembly,
    string Version,
    string AbstractionsVersion,
    IReadOnlyList<string> Handlers,
    IReadOnlyList<string> Encoders,
    IReadOnlyList<string> ConnectHooks);
