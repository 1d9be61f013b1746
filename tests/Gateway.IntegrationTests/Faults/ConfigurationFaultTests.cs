namespace Gateway.IntegrationTests.Faults;

/// <summary>Broken configuration given to the real process: exit 1, every bad key named, no stack trace.</summary>
public sealed class ConfigurationFaultTests
{
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Case name -> (environment, appsettings.json or null, fragments the output must contain: each names a key and its problem).</summary>
    public static TheoryData<string> Cases => ["wrong-types", "durations", "enums", "urls", "socket-names", "json-shapes", "value-for-section-only", "sink-section", "sink-value"];

    private static (Dictionary<string, string> Environment, string? File, string[] Expected) Case(string name) => name switch
    {
        "wrong-types" => (new()
        {
            ["Gateway__Sockets__feed__Url"] = "ws://127.0.0.1:1/",
            ["Gateway__Sockets__feed__MaxMessageSize"] = "lots",
            ["Gateway__Sockets__feed__Queue__Capacity"] = "1.5",
            ["Gateway__Sockets__feed__Required"] = "yes",
            ["Gateway__Sockets__feed__ConnectTimeout"] = "soon",
            ["Gateway__Sockets__feed__Reconnect__Factor"] = "NaN",
        }, null, ["Gateway:Sockets:feed:MaxMessageSize", "Gateway:Sockets:feed:Queue:Capacity", "Gateway:Sockets:feed:Required", "Gateway:Sockets:feed:ConnectTimeout", "Gateway:Sockets:feed:Reconnect:Factor"]),
        "durations" => (new()
        {
            ["Gateway__Sockets__feed__Url"] = "ws://127.0.0.1:1/",
            ["Gateway__Sockets__feed__ConnectTimeout"] = "-00:00:01",
            ["Gateway__Sockets__feed__HandshakeTimeout"] = "00:00:00",
            ["Gateway__Sockets__feed__Reconnect__MaxDelay"] = "400.00:00:00",
            ["Gateway__Sockets__feed__KeepAliveInterval"] = "99999999.00:00:00",
            ["Gateway__ShutdownTimeout"] = "-1",
        }, null, ["Gateway:Sockets:feed:ConnectTimeout", "Gateway:Sockets:feed:HandshakeTimeout", "Gateway:Sockets:feed:Reconnect:MaxDelay", "Gateway:Sockets:feed:KeepAliveInterval", "Gateway:ShutdownTimeout"]),
        "enums" => (new()
        {
            ["Gateway__Sockets__feed__Url"] = "ws://127.0.0.1:1/",
            ["Gateway__Sockets__feed__Protocol"] = "Soap",
            ["Gateway__Sockets__feed__Queue__FullMode"] = "DropAll",
            ["Gateway__Sockets__feed__Outbound__WhileDisconnected"] = "2",
        }, null, ["Gateway:Sockets:feed:Protocol", "Gateway:Sockets:feed:Queue:FullMode", "Gateway:Sockets:feed:Outbound:WhileDisconnected"]),
        "urls" => (new()
        {
            ["Gateway__Sockets__a__Url"] = "not a url",
            ["Gateway__Sockets__b__Url"] = "ws://",
            ["Gateway__Sockets__c__Url"] = "ftp://127.0.0.1/",
            ["Gateway__Sockets__d__Handlers__0"] = "log",
            ["Gateway__Sockets__e__Url"] = "ws://127.0.0.1:99999/",
        }, null, ["Gateway:Sockets:a:Url", "Gateway:Sockets:b:Url", "Gateway:Sockets:c:Url", "Gateway:Sockets:d:Url", "Gateway:Sockets:e:Url"]),
        "socket-names" => (new()
        {
            ["Gateway__Sockets____Url"] = "ws://127.0.0.1:1/",
            ["Gateway__Sockets__bad name!__Url"] = "ws://127.0.0.1:1/",
        }, null, ["Gateway:Sockets::", "bad name!"]),
        "json-shapes" => (new(), """
            { "Gateway": {
                "ShutdownTimeout": { "a": 1 },
                "Api": "key",
                "Defaults": [ 1, 2 ],
                "Sockets": { "feed": {
                    "Url": { "Host": "x" },
                    "Headers": [ "a", "b" ],
                    "Handlers": { "x": { "y": 1 } },
                    "Reconnect": 5,
                    "OnConnect": "hello" } } } }
            """,
            [
                "Gateway:ShutdownTimeout: a section of keys where a single value is expected",
                "Gateway:Api: a single value where a section of keys is expected",
                "Gateway:Defaults:0: unknown key",
                "Gateway:Sockets:feed:Url: a section of keys where a single value is expected",
                "Gateway:Sockets:feed:Handlers:x: a section of keys where a single value is expected",
                "Gateway:Sockets:feed:Reconnect: a single value where a section of keys is expected",
                "Gateway:Sockets:feed:OnConnect: a single value where a list is expected",
            ]),
        "value-for-section-only" => (new()
        {
            ["Gateway__Sockets__feed__Url"] = "ws://127.0.0.1:1/",
            ["Gateway__Sockets__feed__Reconnect"] = "5", // the only problem: it used to be ignored and the process started
        }, null, ["Gateway:Sockets:feed:Reconnect: a single value where a section of keys is expected"]),
        "sink-section" => (new()
        {
            ["Gateway__Handlers__redis-stream__Key"] = "frames:{nope}",
            ["Gateway__Handlers__redis-stream__Configuration"] = "127.0.0.1:1,password=hunter2",
        }, null, ["Gateway:Handlers:redis-stream:Key"]),
        "sink-value" => (new()
        {
            ["Gateway__Handlers__redis-stream__MaxRetryDelay"] = "soon",
        }, null, ["Gateway:Handlers:redis-stream:MaxRetryDelay"]),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Process_BrokenConfiguration_ExitsOneNamingEveryKeyWithoutStackTrace(string name)
    {
        var (environment, file, expected) = Case(name);
        environment["Gateway__Sockets__demo__Enabled"] = "false";
        await using var gateway = GatewayProcess.Start(environment, file is null ? null : new() { ["appsettings.json"] = file });

        await gateway.WaitForExitAsync(s_exitTimeout);

        var output = string.Join('\n', gateway.Output);
        Assert.Equal(1, gateway.ExitCode);
        Assert.All(expected, key => Assert.Contains(key, output, StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", output, StringComparison.Ordinal);
    }
}
