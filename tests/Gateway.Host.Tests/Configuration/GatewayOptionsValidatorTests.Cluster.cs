using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class GatewayOptionsValidatorTests
{
    private static GatewayOptions BindCluster(params (string Key, string? Value)[] values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build();
        var options = new GatewayOptions();
        new GatewayOptionsSetup(configuration).Configure(options);
        return options;
    }

    [Fact]
    public void Configure_NoClusterSection_RunsAlone()
        => Assert.Null(BindCluster(("Gateway:Sockets:a:Url", "ws://h/")).Cluster);

    [Fact]
    public void GetErrors_ClusterWithDefaults_ValidWithTenSecondLeasesAndTheHostNameAsReplicaId()
    {
        var options = BindCluster(("Gateway:Cluster:Redis", "redis:6379"));

        Assert.Empty(_validator.GetErrors(options));
        Assert.Equal(TimeSpan.FromSeconds(10), options.Cluster!.LeaseTtl);
        Assert.Equal("gateway", options.Cluster.Name);
        Assert.Equal(Environment.MachineName, options.Cluster.ReplicaId);
    }

    [Fact]
    public void GetErrors_ClusterWithoutRedis_NamesTheKey()
        => Assert.Contains(_validator.GetErrors(BindCluster(("Gateway:Cluster:LeaseTtl", "00:00:05"))), e => e.StartsWith("Gateway:Cluster:Redis: is required", StringComparison.Ordinal));

    [Theory]
    [InlineData("00:00:00.500")]
    [InlineData("00:10:00")]
    [InlineData("-00:00:05")]
    public void GetErrors_LeaseTtlOutOfBounds_NamesTheKeyAndTheBounds(string ttl)
    {
        var error = Assert.Single(_validator.GetErrors(BindCluster(("Gateway:Cluster:Redis", "redis:6379"), ("Gateway:Cluster:LeaseTtl", ttl))));
        Assert.StartsWith("Gateway:Cluster:LeaseTtl: must be between 00:00:01 and 00:05:00", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ReplicaId", "pod name")]
    [InlineData("ReplicaId", "")]
    [InlineData("Name", "{gateway}")]
    public void GetErrors_BadReplicaIdOrName_NamesTheKey(string key, string value)
        => Assert.Contains(
            _validator.GetErrors(BindCluster(("Gateway:Cluster:Redis", "redis:6379"), ($"Gateway:Cluster:{key}", value))),
            e => e.StartsWith($"Gateway:Cluster:{key}: '{value}' must be letters, digits", StringComparison.Ordinal));

    [Fact]
    public void GetErrors_UnknownClusterKey_NamesItWithTheKnownKeys()
        => Assert.Contains(
            _validator.GetErrors(BindCluster(("Gateway:Cluster:Redis", "redis:6379"), ("Gateway:Cluster:LeaseTTLSeconds", "10"))),
            e => e.StartsWith("Gateway:Cluster:LeaseTTLSeconds: unknown key (known: Redis, Name, LeaseTtl, ReplicaId)", StringComparison.Ordinal));

    [Fact]
    public void GetErrors_LeaseTtlNotADuration_NamesTheKey()
        => Assert.Contains(
            _validator.GetErrors(BindCluster(("Gateway:Cluster:Redis", "redis:6379"), ("Gateway:Cluster:LeaseTtl", "soon"))),
            e => e.StartsWith("Gateway:Cluster:LeaseTtl:", StringComparison.Ordinal));
}
