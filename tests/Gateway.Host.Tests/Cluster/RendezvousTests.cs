using Gateway.Host.Cluster;

namespace Gateway.Host.Tests.Cluster;

public sealed class RendezvousTests
{
    private static readonly string[] s_three = ["gateway-0", "gateway-1", "gateway-2"];

    [Fact]
    public void Owner_MembersInAnyOrder_SameOwner()
    {
        for (var i = 0; i < 200; i++)
        {
            var socket = $"socket-{i}";
            Assert.Equal(Rendezvous.Owner(socket, s_three), Rendezvous.Owner(socket, [.. s_three.Reverse()]));
        }
    }

    [Fact]
    public void Owner_SocketNameCase_SameOwner()
        => Assert.Equal(Rendezvous.Owner("Prices", s_three), Rendezvous.Owner("PRICES", s_three));

    [Fact]
    public void Owner_NoMembers_Null() => Assert.Null(Rendezvous.Owner("prices", []));

    [Fact]
    public void Owner_ReplicaJoins_OnlySocketsItWinsMove()
    {
        string[] four = [.. s_three, "gateway-3"];
        var moved = 0;
        for (var i = 0; i < 1000; i++)
        {
            var socket = $"socket-{i}";
            var before = Rendezvous.Owner(socket, s_three);
            var after = Rendezvous.Owner(socket, four);
            if (before != after)
            {
                Assert.Equal("gateway-3", after);
                moved++;
            }
        }

        // About a quarter moves to the newcomer, and nothing else moves.
        Assert.InRange(moved, 180, 320);
    }

    [Fact]
    public void Owner_ReplicaLeaves_OnlyItsSocketsMove()
    {
        string[] two = ["gateway-0", "gateway-2"];
        for (var i = 0; i < 1000; i++)
        {
            var socket = $"socket-{i}";
            var before = Rendezvous.Owner(socket, s_three);
            if (before != "gateway-1")
            {
                Assert.Equal(before, Rendezvous.Owner(socket, two));
            }
        }
    }

    [Fact]
    public void Owner_300SocketsOverThreeReplicas_SplitWithinFifteenPercentOfEven()
    {
        // The names of the measurement in docs/operations.md (and of the 300-socket cluster test).
        var counts = s_three.ToDictionary(m => m, _ => 0);
        for (var i = 0; i < 300; i++)
        {
            counts[Rendezvous.Owner($"socket-{i:000}", s_three)!]++;
        }

        Assert.All(counts.Values, count => Assert.InRange(count, 85, 115));
    }

    [Fact]
    public void Owner_ManyNameSets_SpreadIsThatOfAFairThreeSidedDie()
    {
        // Each socket's owner is a function of its name and the members alone (so that replicas never need
        // to agree on the whole configuration): the split is that of 300 fair throws, one standard
        // deviation about 8 sockets, within +-15 % of even for about 86 % of name sets. A weak hash does worse.
        var random = new Random(15);
        var within = 0;
        const int Sets = 400;
        for (var set = 0; set < Sets; set++)
        {
            var counts = new int[3];
            for (var i = 0; i < 300; i++)
            {
                var name = $"{(char)('a' + random.Next(26))}{random.Next(1_000_000)}-{i}";
                counts[Array.IndexOf(s_three, Rendezvous.Owner(name, s_three))]++;
            }

            within += counts.All(c => c is >= 85 and <= 115) ? 1 : 0;
        }

        Assert.InRange(within / (double)Sets, 0.78, 0.94);
    }
}
