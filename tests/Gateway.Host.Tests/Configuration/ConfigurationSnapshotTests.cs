using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed class ConfigurationSnapshotTests
{
    private static IConfigurationRoot TwoProviders() => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Sockets:b:Url"] = "ws://first/b",
            ["Gateway:Sockets:b:Handlers:0"] = "log",
            ["Gateway:Sockets:10:Url"] = "ws://first/10",
            ["Gateway:Sockets:2:Url"] = "ws://first/2",
            ["Gateway:Sockets:a"] = "a value where a section belongs",
            ["Gateway:Other:x"] = "not a socket",
            ["Gateway:SocketsX:y"] = "not a socket either",
        })
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GATEWAY:sockets:B:url"] = "ws://second/b",
            ["Gateway:Sockets:c:Headers:X-Key"] = "k",
        })
        .Build();

    private static List<string> Flatten(IEnumerable<IConfigurationSection> sections)
        => [.. sections.SelectMany(s => s.AsEnumerable().Select(e => $"{e.Key}={e.Value}")).Order(StringComparer.OrdinalIgnoreCase)];

    [Fact]
    public void ChildrenOf_ProviderKeys_SameSectionsKeysAndValuesAsGetChildren()
    {
        var configuration = TwoProviders();

        var snapshot = ConfigurationSnapshot.ChildrenOf(configuration, "Gateway:Sockets");

        Assert.NotNull(snapshot);
        var expected = configuration.GetSection("Gateway:Sockets").GetChildren().ToList();
        Assert.Equal(expected.Select(s => s.Key), snapshot.Select(s => s.Key), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(["2", "10", "a", "b", "c"], snapshot.Select(s => s.Key.ToLowerInvariant()));
        Assert.Equal(expected.Select(s => s.Path), snapshot.Select(s => s.Path), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(Flatten(expected), Flatten(snapshot), StringComparer.OrdinalIgnoreCase);
        Assert.Equal("ws://second/b", snapshot.Single(s => s.Key == "b")["Url"]);
        Assert.Equal("a value where a section belongs", snapshot.Single(s => s.Key == "a").Value);
    }

    [Fact]
    public void ChildrenOf_NotAConfigurationRoot_IsNull()
    {
        var section = TwoProviders().GetSection("Gateway");

        Assert.Null(ConfigurationSnapshot.ChildrenOf(section, "Gateway:Sockets"));
    }
}
