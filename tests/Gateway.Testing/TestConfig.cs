namespace Gateway.Testing;

/// <summary>Builds flat configuration dictionaries: fast reconnects, no jitter, the recording handler.</summary>
public sealed class TestConfig
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Gateway:Defaults:Reconnect:MinDelay"] = "00:00:00.050",
        ["Gateway:Defaults:Reconnect:MaxDelay"] = "00:00:00.500",
        ["Gateway:Defaults:Reconnect:Jitter"] = "0",
        ["Gateway:Defaults:Handlers:0"] = RecordingFrameHandler.Name,
        ["Gateway:ShutdownTimeout"] = "00:00:05",
    };

    public TestConfig Socket(string name, Uri url, params (string Key, string? Value)[] settings)
    {
        _values[$"Gateway:Sockets:{name}:Url"] = url.ToString();
        foreach (var (key, value) in settings)
        {
            _values[$"Gateway:Sockets:{name}:{key}"] = value;
        }

        return this;
    }

    public TestConfig Set(string key, string? value)
    {
        _values[key] = value;
        return this;
    }

    public TestConfig Without(string socket)
    {
        foreach (var key in _values.Keys.Where(k => k.StartsWith($"Gateway:Sockets:{socket}:", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            _values.Remove(key);
        }

        return this;
    }

    public Dictionary<string, string?> Build() => new(_values, StringComparer.OrdinalIgnoreCase);

    public static implicit operator Dictionary<string, string?>(TestConfig config) => config.Build();
}
