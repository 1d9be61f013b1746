using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Host.Cluster;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// Three gateway processes, a redis-server of the test's own, and an upstream that records every
/// connection of every socket: each socket connected once, never two connections of one socket open
/// at once, through kill -9, restart, a Redis restart, and sends through a replica that does not own the socket.
/// </summary>
[Collection(nameof(ClusterProcesses))]
public sealed class ClusterTests(ITestOutputHelper output)
{
    private static readonly string[] s_replicas = ["gateway-0", "gateway-1", "gateway-2"];
    private static readonly string[] s_sockets = [.. Enumerable.Range(0, 12).Select(i => $"socket-{i:00}")];

    /// <summary>The failover bound of the issue, with room for a slow, shared CI machine.</summary>
    private static readonly TimeSpan s_failoverBound = GatewayCluster.LeaseTtl + GatewayCluster.BackoffStep + TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Cluster_ThreeReplicas_EachSocketOnceThenKillMovesItsShareAndRestartMovesItBackGracefully()
    {
        await using var redis = await ClusterRedis.StartAsync();
        await using var ledger = await ConnectionLedger.StartAsync();
        await using var cluster = new GatewayCluster(redis, ledger, s_sockets);
        foreach (var id in s_replicas)
        {
            cluster.Start(id);
        }

        // Every socket on its rendezvous owner, connected exactly once, and it stays that way.
        var owners = await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], s_replicas, GatewayCluster.StartTimeout);
        await Task.Delay(GatewayCluster.LeaseTtl * 2, TestContext.Current.CancellationToken);
        Assert.Empty(ledger.Overlaps());
        foreach (var socket in s_sockets)
        {
            Assert.Single(ledger.Of(socket));
            Assert.Equal(Rendezvous.Owner(socket, s_replicas), owners[socket]);
        }

        Assert.Equal(3, owners.Values.Distinct().Count());
        var listedElsewhere = await GatewayCluster.ListAsync(cluster.Replicas["gateway-2"]);
        Assert.All(s_sockets, s => Assert.Equal(owners[s], listedElsewhere[s].Owner));

        // kill -9: the victim's sockets come back on the others within LeaseTtl plus one backoff step.
        const string Victim = "gateway-1";
        var orphans = s_sockets.Where(s => owners[s] == Victim).ToList();
        var killed = Stopwatch.GetTimestamp();
        await cluster.KillAsync(Victim);
        await Eventually.TrueAsync(() => orphans.All(s => ledger.Of(s) is [.., { ClosedAt: null }] c && c.Count == 2), "the killed replica's sockets are connected again", s_failoverBound + TimeSpan.FromSeconds(10));
        var failover = Stopwatch.GetElapsedTime(killed, orphans.Max(s => ledger.Of(s)[^1].OpenedAt));
        output.WriteLine($"failover after kill -9 of {Victim} ({orphans.Count} sockets): {failover.TotalMilliseconds:F0} ms (LeaseTtl {GatewayCluster.LeaseTtl.TotalMilliseconds:F0} ms)");
        Assert.True(failover < s_failoverBound, $"failover took {failover}, bound {s_failoverBound}");
        string[] survivors = ["gateway-0", "gateway-2"];
        var afterKill = await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], survivors, GatewayCluster.StartTimeout);
        Assert.All(orphans, s => Assert.Equal(Rendezvous.Owner(s, survivors), afterKill[s]));
        Assert.All(s_sockets.Except(orphans), s => Assert.Single(ledger.Of(s)));

        // The replica comes back: its share moves back, each socket closed (goodbye, 1001) before it reconnects.
        cluster.Start(Victim);
        await Eventually.TrueAsync(
            async () =>
            {
                var listed = await GatewayCluster.ListAsync(cluster.Replicas["gateway-0"]);
                return s_sockets.All(s => listed.TryGetValue(s, out var e) && e.State == "Ready" && e.Owner == owners[s]);
            },
            "every socket is back on its owner of three",
            GatewayCluster.StartTimeout);
        foreach (var socket in orphans)
        {
            var connections = ledger.Of(socket);
            Assert.Equal(3, connections.Count);
            Assert.True(connections[1].ClosedGracefully, $"{socket}: the handover closed with 1001, not a drop");
        }

        Assert.All(s_sockets.Except(orphans), s => Assert.Single(ledger.Of(s)));
        Assert.Empty(ledger.Overlaps());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cluster_RedisRestarts_NeverTwoHoldersAndEverySocketComesBack(bool appendOnly)
    {
        await using var redis = await ClusterRedis.StartAsync(appendOnly);
        await using var ledger = await ConnectionLedger.StartAsync();
        await using var cluster = new GatewayCluster(redis, ledger, s_sockets);
        foreach (var id in s_replicas)
        {
            cluster.Start(id);
        }

        await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], s_replicas, GatewayCluster.StartTimeout);
        await redis.StopAsync();

        // Without Redis the replica says so, and keeps its sockets until the leases could run out.
        await Eventually.TrueAsync(
            async () => (await ReadyBodyAsync(cluster.Replicas["gateway-0"])).Contains("cluster Redis unreachable", StringComparison.Ordinal),
            "readiness reports the lost Redis",
            TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(() => ledger.OpenNow().Count == 0, "every socket closed before its lease could expire", TimeSpan.FromSeconds(20));

        await redis.StartAgainAsync();
        await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], s_replicas, GatewayCluster.StartTimeout);

        // Replicas reconnect to Redis one after the other: a socket may land on an early one first and be
        // handed over when the others are back, but it is never open twice.
        await Eventually.TrueAsync(() => s_sockets.All(s => ledger.OpenNow().GetValueOrDefault(s) == 1), "every socket open once after the handovers", TimeSpan.FromSeconds(20));
        Assert.Empty(ledger.Overlaps());
    }

    [Fact]
    public async Task Cluster_SendThroughNonOwner_ReachesOwnersSocketOnceWithOwnersOutcome()
    {
        await using var redis = await ClusterRedis.StartAsync();
        await using var ledger = await ConnectionLedger.StartAsync();
        await using var cluster = new GatewayCluster(redis, ledger, s_sockets, new() { ["Gateway__Defaults__Groups__0"] = "all" });
        foreach (var id in s_replicas)
        {
            cluster.Start(id);
        }

        var owners = await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], s_replicas, GatewayCluster.StartTimeout);
        var socket = s_sockets.First(s => owners[s] != "gateway-0");
        var via = cluster.Replicas["gateway-0"];

        using (var response = await via.Http.PostAsync($"/sockets/{socket}/messages", new StringContent("one", Encoding.UTF8, "text/plain"), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("Sent", JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("status").GetString());
        }

        using (var response = await via.Http.PostAsync($"/sockets/{socket}/messages?wait=true", new StringContent("two", Encoding.UTF8, "text/plain"), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("Sent", JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("status").GetString());
        }

        using (var response = await via.Http.PostAsync($"/sockets/{socket}/batch", new StringContent("""["b1", {"text": "b2"}]""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("Sent", JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("status").GetString());
        }

        // A group publish covers the members on every replica, each once.
        using (var response = await via.Http.PostAsync("/groups/all/messages", new StringContent("everyone", Encoding.UTF8, "text/plain"), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var results = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("results");
            Assert.Equal(s_sockets, results.EnumerateArray().Select(r => r.GetProperty("socket").GetString()));
            Assert.All(results.EnumerateArray(), r => Assert.Equal("Sent", r.GetProperty("status").GetString()));
        }

        // An unknown socket is unknown on every replica.
        using (var response = await via.Http.PostAsync("/sockets/nope/messages", new StringContent("x", Encoding.UTF8, "text/plain"), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        // Each replica is ready with its share; its metrics name it.
        foreach (var (id, replica) in cluster.Replicas)
        {
            Assert.Equal(HttpStatusCode.OK, replica.Get("/health/ready"));
            var metrics = await replica.Http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
            Assert.Contains($"gateway_replica=\"{id}\"", metrics, StringComparison.Ordinal);
            Assert.Contains($"service_instance_id=\"{id}\"", metrics, StringComparison.Ordinal);
            Assert.Contains("gateway_cluster_owned_sockets{", metrics, StringComparison.Ordinal);
        }

        await Eventually.TrueAsync(() => s_sockets.All(s => ledger.Of(s)[^1].Session.Received.Count == (s == socket ? 5 : 1)), "every message arrived");
        await Task.Delay(500, TestContext.Current.CancellationToken);
        var received = ledger.Of(socket).SelectMany(c => c.Session.Received).Select(m => Encoding.UTF8.GetString(m.Data)).ToList();
        Assert.Equal(["one", "two", "b1", "b2", "everyone"], received);
        Assert.All(s_sockets.Where(s => s != socket), s => Assert.Equal(["everyone"], ledger.Of(s).SelectMany(c => c.Session.Received).Select(m => Encoding.UTF8.GetString(m.Data))));
        Assert.Empty(ledger.Overlaps());
    }

    [Fact]
    public async Task Cluster_SocketAddedToTheFilesOneReplicaAfterTheOther_ConnectedOnceByItsOwner()
    {
        await using var redis = await ClusterRedis.StartAsync();
        await using var ledger = await ConnectionLedger.StartAsync();
        await using var cluster = new GatewayCluster(redis, ledger, s_sockets);
        const string Empty = """{ "Gateway": { "Defaults": { "Handlers": [ "log" ] }, "Sockets": { } } }""";
        foreach (var id in s_replicas)
        {
            cluster.Start(id, new() { ["appsettings.json"] = Empty });
        }

        await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], s_replicas, GatewayCluster.StartTimeout);
        const string Late = "late";
        var owner = Rendezvous.Owner(Late, s_replicas)!;
        var added = $$"""{ "Gateway": { "Defaults": { "Handlers": [ "log" ] }, "Sockets": { "{{Late}}": { "Url": "{{ledger.Url(Late)}}" } } } }""";

        // The replicas that do not own it read the change first: nobody connects it yet.
        foreach (var id in s_replicas.Where(r => r != owner))
        {
            await File.WriteAllTextAsync(cluster.Replicas[id].File("appsettings.json"), added, TestContext.Current.CancellationToken);
        }

        await Eventually.TrueAsync(
            async () => (await GatewayCluster.ListAsync(cluster.Replicas[s_replicas.First(r => r != owner)])).ContainsKey(Late),
            "a replica that read the change lists the new socket");
        await Task.Delay(GatewayCluster.LeaseTtl, TestContext.Current.CancellationToken);
        Assert.Empty(ledger.Of(Late));

        await File.WriteAllTextAsync(cluster.Replicas[owner].File("appsettings.json"), added, TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => ledger.Of(Late).Count == 1, "its owner connects it", GatewayCluster.StartTimeout);
        await Task.Delay(GatewayCluster.LeaseTtl, TestContext.Current.CancellationToken);
        Assert.Single(ledger.Of(Late));
        Assert.Equal(owner, (await GatewayCluster.ListAsync(cluster.Replicas[s_replicas.First(r => r != owner)]))[Late].Owner);

        // Removed everywhere: closed by its owner, gracefully.
        foreach (var id in s_replicas)
        {
            await File.WriteAllTextAsync(cluster.Replicas[id].File("appsettings.json"), Empty, TestContext.Current.CancellationToken);
        }

        await Eventually.TrueAsync(() => ledger.Of(Late)[0].ClosedAt is not null, "the removed socket is closed", GatewayCluster.StartTimeout);
        Assert.True(ledger.Of(Late)[0].ClosedGracefully);
        Assert.All(s_sockets, s => Assert.Single(ledger.Of(s)));
        Assert.Empty(ledger.Overlaps());
    }

    [Fact]
    public async Task Cluster_ThreeReplicas300Sockets_SplitWithinFifteenPercentOfEven()
    {
        string[] sockets = [.. Enumerable.Range(0, 300).Select(i => $"socket-{i:000}")];
        await using var redis = await ClusterRedis.StartAsync();
        await using var ledger = await ConnectionLedger.StartAsync();
        await using var cluster = new GatewayCluster(redis, ledger, sockets);
        foreach (var id in s_replicas)
        {
            cluster.Start(id);
        }

        var owners = await cluster.WaitAllReadyAsync(cluster.Replicas["gateway-0"], s_replicas, TimeSpan.FromSeconds(120));
        var split = s_replicas.ToDictionary(r => r, r => owners.Values.Count(o => o == r));
        output.WriteLine($"300 sockets over 3 replicas: {string.Join(", ", split.Select(s => $"{s.Key} {s.Value}"))}");
        Assert.All(split.Values, count => Assert.InRange(count, 85, 115));
        Assert.Equal(300, ledger.OpenNow().Count);
        Assert.All(ledger.OpenNow().Values, n => Assert.Equal(1, n));
        Assert.Empty(ledger.Overlaps());
    }

    private static async Task<string> ReadyBodyAsync(GatewayProcess replica)
    {
        try
        {
            using var response = await replica.Http.GetAsync("/health/ready");
            return await response.Content.ReadAsStringAsync();
        }
        catch (HttpRequestException)
        {
            return string.Empty;
        }
    }
}
