using System.Text;
using Gateway.Host.Protocols.Phoenix;

namespace Gateway.Host.Tests.Protocols.Phoenix;

public sealed class PhoenixPresenceTests
{
    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Keys(PhoenixPresence presence, long joinRef)
        => string.Join(",", presence.Snapshot(joinRef)["presences"]!.AsObject().Select(p => $"{p.Key}:{string.Join("+", p.Value!["metas"]!.AsArray().Select(m => m!["phx_ref"]!.GetValue<string>()))}"));

    [Fact]
    public void OnDiff_JoinsAndLeaves_MetasAddedReplacedAndRemovedKeyDroppedWhenEmpty()
    {
        var presence = new PhoenixPresence();
        presence.OnState(Bytes("""{"ann":{"metas":[{"phx_ref":"a1"}]},"bob":{"metas":[{"phx_ref":"b1"}]}}"""), 1);

        presence.OnDiff(Bytes("""{"joins":{"ann":{"metas":[{"phx_ref":"a2"}]},"cat":{"metas":[{"phx_ref":"c1"}]}},"leaves":{"bob":{"metas":[{"phx_ref":"b1"}]}}}"""), 1);

        Assert.Equal("ann:a1+a2,cat:c1", Keys(presence, 1));
        Assert.True(presence.Snapshot(1)["synced"]!.GetValue<bool>());
    }

    [Fact]
    public void OnDiff_BeforeTheStateOfTheCurrentJoin_HeldThenAppliedAfterIt()
    {
        var presence = new PhoenixPresence();
        presence.OnState(Bytes("""{"old":{"metas":[{"phx_ref":"o1"}]}}"""), 1);

        // A rejoin (join_ref 2): its diffs wait for its state.
        presence.OnDiff(Bytes("""{"joins":{"dan":{"metas":[{"phx_ref":"d1"}]}},"leaves":{}}"""), 2);
        var whileWaiting = Keys(presence, 2);
        var syncedWhileWaiting = presence.Snapshot(2)["synced"]!.GetValue<bool>();
        presence.OnState(Bytes("""{"ann":{"metas":[{"phx_ref":"a1"}]}}"""), 2);

        Assert.Equal("old:o1", whileWaiting);
        Assert.False(syncedWhileWaiting);
        Assert.Equal("ann:a1,dan:d1", Keys(presence, 2));
    }

    [Fact]
    public void OnStateAndOnDiff_NotAnObject_RejectedStateKept()
    {
        var presence = new PhoenixPresence();
        presence.OnState(Bytes("""{"ann":{"metas":[{"phx_ref":"a1"}]}}"""), 1);

        Assert.False(presence.OnState(Bytes("[1]"), 1));
        Assert.False(presence.OnDiff(Bytes("not json"), 1));
        Assert.Equal("ann:a1", Keys(presence, 1));
    }
}
