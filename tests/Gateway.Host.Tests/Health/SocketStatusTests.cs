using System.Net.WebSockets;
using Gateway.Host.Health;

namespace Gateway.Host.Tests.Health;

public sealed class SocketStatusTests
{
    private static readonly DateTimeOffset s_start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static void Disconnect(SocketStatus status, int i)
        => status.RecordDisconnect(
            new DisconnectReason(WebSocketCloseStatus.EndpointUnavailable, $"restart {i}", null, ClosedByGateway: false) { Kind = DisconnectKind.ServerClosed },
            "server_closed",
            $"server closed with 1001 'restart {i}'",
            s_start.AddSeconds(i));

    [Fact]
    public void Snapshot_NeverDisconnected_NoRecentDisconnects()
        => Assert.Null(new SocketStatus("a", "Raw", required: true, "ws://h/").Snapshot().RecentDisconnects);

    [Fact]
    public void RecordDisconnect_MoreThanTheRingHolds_KeepsTheLatestNewestFirst()
    {
        var status = new SocketStatus("a", "Raw", required: true, "ws://h/");
        for (var i = 1; i <= SocketStatus.RecentDisconnectCapacity + 2; i++)
        {
            Disconnect(status, i);
        }

        var recent = status.Snapshot().RecentDisconnects!;

        Assert.Equal(SocketStatus.RecentDisconnectCapacity, recent.Count);
        Assert.Equal(Enumerable.Range(3, SocketStatus.RecentDisconnectCapacity).Reverse().Select(i => s_start.AddSeconds(i)), recent.Select(d => d.At));
        Assert.Equal(new DisconnectRecord(s_start.AddSeconds(7), "server_closed", "server closed with 1001 'restart 7'", 1001, "server"), recent[0]);
    }

    [Fact]
    public void Changed_StateChangesConnectsAndDisconnects_ToldOncePerChangeAndNotForTheSameState()
    {
        var tracker = new SocketHealthTracker();
        var status = new SocketStatus("a", "Raw", required: true, "ws://h/");
        var told = new List<string>();
        tracker.Changed += s => told.Add($"changed {s.Snapshot().State}");
        tracker.Removed += s => told.Add("removed");

        tracker.Add(status);
        status.TrySetState(SocketState.Connecting, s_start, 0);
        status.TrySetState(SocketState.Connecting, s_start, 0);
        status.RecordConnected(s_start, isReconnect: false);
        Disconnect(status, 1);
        tracker.Remove(status);
        tracker.Remove(status);

        Assert.Equal(["changed Starting", "changed Connecting", "changed Connecting", "changed Connecting", "removed"], told);
    }
}
