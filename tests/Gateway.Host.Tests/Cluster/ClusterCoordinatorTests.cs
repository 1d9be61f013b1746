using Gateway.Host.Cluster;

namespace Gateway.Host.Tests.Cluster;

public sealed class ClusterCoordinatorTests
{
    private static readonly TimeSpan s_ttl = TimeSpan.FromSeconds(3);
    private static readonly string[] s_sockets = [.. Enumerable.Range(0, 12).Select(i => $"socket-{i:00}")];

    private static async Task<ClusterSimulation> SteadyAsync(params string[] replicas)
    {
        var cluster = new ClusterSimulation(s_ttl, s_sockets);
        foreach (var id in replicas)
        {
            cluster.Add(id);
        }

        // A fresh store holds every lease back for one TTL (it cannot tell a first start from a restart).
        await cluster.RunAsync(s_ttl * 4, () => cluster.Open.Count == s_sockets.Length);
        Assert.Equal(s_sockets.Length, cluster.Open.Count);
        return cluster;
    }

    [Fact]
    public async Task TickAsync_ThreeReplicas_EachSocketOpenedOnceByItsRendezvousOwner()
    {
        var cluster = await SteadyAsync("a", "b", "c");
        await cluster.RunAsync(s_ttl * 3);

        Assert.Empty(cluster.Violations);
        foreach (var socket in s_sockets)
        {
            var opens = cluster.Events.Where(e => e.Socket == socket && e.Opened).ToList();
            var open = Assert.Single(opens);
            Assert.Equal(Rendezvous.Owner(socket, ["a", "b", "c"]), open.Replica);
        }

        Assert.DoesNotContain(cluster.Events, e => !e.Opened);
        Assert.Equal(3, cluster.Replicas["a"].Coordinator.Members.Count);
    }

    [Fact]
    public async Task TickAsync_ReplicaJoins_OldOwnerClosesAndReleasesBeforeNewOwnerOpens()
    {
        var cluster = await SteadyAsync("a", "b");
        var before = cluster.Events.Count;
        cluster.Add("c");
        await cluster.RunAsync(s_ttl * 3);

        Assert.Empty(cluster.Violations);
        var moved = s_sockets.Where(s => Rendezvous.Owner(s, ["a", "b", "c"]) == "c").ToList();
        Assert.NotEmpty(moved);
        var later = cluster.Events.Skip(before).ToList();
        foreach (var socket in s_sockets)
        {
            var events = later.Where(e => e.Socket == socket).ToList();
            if (moved.Contains(socket))
            {
                // A handover: the old owner closes (with its drain budget), then c opens.
                Assert.Equal(2, events.Count);
                Assert.False(events[0].Opened);
                Assert.NotEqual("c", events[0].Replica);
                Assert.True(events[0].Budget > TimeSpan.FromSeconds(1));
                Assert.True(events[1].Opened);
                Assert.Equal("c", events[1].Replica);
                Assert.Equal("c", cluster.Open[socket]);
            }
            else
            {
                Assert.Empty(events);
            }
        }
    }

    [Fact]
    public async Task EnforceDeadlines_RedisUnreachable_SocketsRunUntilCloseAfterThenCloseBeforeTheirLeasesCanExpire()
    {
        var cluster = await SteadyAsync("a");
        var coordinator = cluster.Replicas["a"].Coordinator;
        var expiries = s_sockets.ToDictionary(s => s, s => cluster.Store.Expiry(s)!.Value);
        var lost = cluster.Time.GetUtcNow();
        cluster.Store.Unreachable = true;

        await cluster.RunAsync(s_ttl * 2);

        Assert.Empty(cluster.Open);
        Assert.NotNull(coordinator.Failure);
        foreach (var socket in s_sockets)
        {
            var close = Assert.Single(cluster.Events, e => e.Socket == socket && !e.Opened);

            // Not at the first failed renewal: only once the lease is CloseAfter old ...
            Assert.True(close.At - lost >= coordinator.CloseAfter - coordinator.RenewInterval, $"{socket} closed {close.At - lost} after Redis went away");

            // ... and closed, aborted if need be, before Redis could let the lease go.
            Assert.True(close.At + close.Budget < expiries[socket], $"{socket} closes by {close.At + close.Budget:O}, its lease expires {expiries[socket]:O}");
            Assert.True(expiries[socket] - (close.At + close.Budget) >= s_ttl * (1 - ClusterCoordinator.CloseByFraction) - ClusterSimulation.Step);
        }
    }

    [Fact]
    public async Task TickAsync_RedisBackBeforeCloseAfter_SocketsStayOpen()
    {
        var cluster = await SteadyAsync("a");
        cluster.Store.Unreachable = true;
        await cluster.RunAsync(s_ttl * 0.4);
        cluster.Store.Unreachable = false;
        await cluster.RunAsync(s_ttl * 2);

        Assert.Equal(s_sockets.Length, cluster.Open.Count);
        Assert.DoesNotContain(cluster.Events, e => !e.Opened);
        Assert.Null(cluster.Replicas["a"].Coordinator.Failure);
    }

    [Fact]
    public async Task TickAsync_ReplicaKilled_OthersOpenItsSocketsWithinLeaseTtl()
    {
        var cluster = await SteadyAsync("a", "b", "c");
        var orphans = s_sockets.Where(s => cluster.Open[s] == "c").ToList();
        Assert.NotEmpty(orphans);
        var killed = cluster.Time.GetUtcNow();
        cluster.Replicas["c"].Kill();

        await cluster.RunAsync(s_ttl * 2, () => cluster.Open.Count == s_sockets.Length);

        Assert.Empty(cluster.Violations);
        Assert.Equal(s_sockets.Length, cluster.Open.Count);
        var back = cluster.Events.Where(e => e.Opened && e.At > killed).Max(e => e.At);

        // The lease expires at most LeaseTtl after the kill; the survivors look again right when it does.
        Assert.True(back - killed <= s_ttl + (ClusterSimulation.Step * 4), $"back after {back - killed}");
        Assert.All(orphans, s => Assert.Equal(Rendezvous.Owner(s, ["a", "b"]), cluster.Open[s]));
    }

    [Fact]
    public async Task ReleaseAllAsync_ReplicaLeaves_OthersTakeOverWithoutWaitingForExpiry()
    {
        var cluster = await SteadyAsync("a", "b");
        var leaving = cluster.Replicas["b"];
        var left = cluster.Time.GetUtcNow();
        await leaving.Coordinator.ReleaseAllAsync();
        await cluster.Store.LeaveAsync("b", CancellationToken.None);
        cluster.Replicas.Remove("b");
        cluster.Replicas["a"].Coordinator.Wake();

        await cluster.RunAsync(s_ttl * 2, () => cluster.Open.Count == s_sockets.Length && cluster.Open.Values.All(r => r == "a"));

        Assert.Empty(cluster.Violations);
        Assert.All(cluster.Open.Values, r => Assert.Equal("a", r));
        Assert.True(cluster.Time.GetUtcNow() - left < s_ttl / 2, $"took {cluster.Time.GetUtcNow() - left}");
    }

    [Fact]
    public async Task TickAsync_RedisRestartedEmpty_NeverTwoHoldersAndEverySocketBack()
    {
        var cluster = await SteadyAsync("a", "b", "c");
        var restarted = cluster.Time.GetUtcNow();
        cluster.Store.Restart();

        await cluster.RunAsync(s_ttl * 4);

        Assert.Empty(cluster.Violations);
        Assert.Equal(s_sockets.Length, cluster.Open.Count);

        // Every lease was lost with the data: each socket closed at its owner's next renewal, and came back
        // only after the quarantine (one TTL after the first replica saw the new server).
        foreach (var socket in s_sockets)
        {
            var after = cluster.Events.Where(e => e.Socket == socket && e.At >= restarted).ToList();
            Assert.False(after[0].Opened);
            var reopened = after.First(e => e.Opened);
            Assert.True(reopened.At - restarted >= s_ttl, $"{socket} reopened {reopened.At - restarted} after the restart");
        }
    }

    [Fact]
    public async Task TickAsync_LeaseTakenOver_ClosesAtOnce()
    {
        var cluster = await SteadyAsync("a");
        var socket = s_sockets[0];
        cluster.Store.Steal(socket, "z", s_ttl);

        await cluster.RunAsync(s_ttl / 2);

        Assert.DoesNotContain(socket, cluster.Open.Keys);
        Assert.Equal(s_sockets.Length - 1, cluster.Open.Count);
        Assert.Equal(1, cluster.Replicas["a"].Coordinator.LeasesLost);
        Assert.Equal("z", cluster.Store.Holder(socket));
    }

    [Fact]
    public async Task TickAsync_SocketRemovedFromConfiguration_ClosedAndLeaseReleased()
    {
        var cluster = await SteadyAsync("a", "b");
        var removed = s_sockets[3];
        var owner = cluster.Open[removed];
        cluster.Sockets.Remove(removed);
        cluster.Replicas[owner].RaiseChanged();

        await cluster.RunAsync(s_ttl / 2);

        Assert.DoesNotContain(removed, cluster.Open.Keys);
        Assert.Null(cluster.Store.Holder(removed));
        Assert.Equal(s_sockets.Length - 1, cluster.Open.Count);
    }

    [Fact]
    public async Task TickAsync_SocketAddedToConfiguration_OwnerOpensIt()
    {
        var cluster = await SteadyAsync("a", "b");
        cluster.Sockets.Add("late");

        await cluster.RunAsync(s_ttl);

        Assert.Equal(Rendezvous.Owner("late", ["a", "b"]), cluster.Open["late"]);
        Assert.Empty(cluster.Violations);
    }

    [Fact]
    public async Task StopBudget_RestartWhileRedisIsAway_NeverPastTheLeaseDeadline()
    {
        var cluster = await SteadyAsync("a");
        var replica = cluster.Replicas["a"];
        var limit = replica.StopLimit!;
        var socket = s_sockets[0];
        var expiry = cluster.Store.Expiry(socket)!.Value;

        // Renewing: a configuration restart keeps its own budget when that ends in time.
        Assert.Equal(TimeSpan.FromMilliseconds(500), limit(socket, TimeSpan.FromMilliseconds(500)));

        cluster.Store.Unreachable = true;
        await cluster.RunAsync(s_ttl * 0.4);
        var budget = limit(socket, TimeSpan.FromSeconds(10));
        Assert.True(cluster.Time.GetUtcNow() + budget < expiry, $"a 10 s stop now ends by {cluster.Time.GetUtcNow() + budget:O}, the lease expires {expiry:O}");
        Assert.Equal(TimeSpan.FromSeconds(10), limit("not-held", TimeSpan.FromSeconds(10)));
    }
}
