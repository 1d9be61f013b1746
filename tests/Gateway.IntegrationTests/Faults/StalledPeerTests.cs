using System.Buffers.Binary;
using System.Collections.Concurrent;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Tag = System.Collections.Generic.KeyValuePair<string, object?>;

namespace Gateway.IntegrationTests.Faults;

/// <summary>
/// A peer that completes the upgrade and then never reads: outbound memory stays within
/// <c>Outbound:Capacity</c> (QueueFull beyond it), and every accepted message is accounted for.
/// (<c>OutboundTests.Send_PeerStoppedReading_...</c> covers that no send blocks longer than SendTimeout.)
/// </summary>
public sealed class StalledPeerTests
{
    private const int Capacity = 4;
    private const int PayloadSize = 512 * 1024;
    private const int MaxSends = 40;

    private static byte[] Payload(int index)
    {
        var payload = new byte[PayloadSize];
        BinaryPrimitives.WriteInt32BigEndian(payload, index);
        return payload;
    }

    private static (string Key, string? Value)[] Settings(string whileDisconnected) =>
    [
        ("Outbound:Capacity", Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("Outbound:SendTimeout", "00:00:00.200"),
        ("Outbound:WhileDisconnected", whileDisconnected),
        ("MaxMessageSize", "1048576"),
        ("KeepAliveInterval", "00:00:00"),
    ];

    /// <summary>Sends until the queue is full (bounded by <see cref="MaxSends"/>), checking the depth never passes the capacity.</summary>
    private static async Task<List<(int Index, SendStatus Status)>> FloodAsync(GatewayTestHost gateway)
    {
        var results = new List<(int, SendStatus)>();
        var full = 0;
        for (var i = 0; i < MaxSends && full < 3; i++)
        {
            var status = (await gateway.Sender.SendBinaryAsync("a", Payload(i))).Status;
            results.Add((i, status));
            full += status == SendStatus.QueueFull ? 1 : 0;
            Assert.InRange(gateway.Status("a").OutboundDepth, 0, Capacity);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{results.Count} sends of {PayloadSize / 1024} KiB: {string.Join(", ", results.GroupBy(r => r.Item2).Select(g => $"{g.Key} {g.Count()}"))}");
        return results;
    }

    [Fact]
    public async Task Send_PeerStalledThenReset_UnderReject_QueueBoundedAndEveryAcceptedMessageWrittenOrCountedDropped()
    {
        var stalled = new TaskCompletionSource<RawPeerSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var peer = RawPeer.Start(async s =>
        {
            await s.AnswerUpgradeAsync();
            stalled.TrySetResult(s);
            await s.StayOpenAsync(); // never reads again
        });
        var gateway = GatewayTestHost.Create(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", peer.Url(), Settings("Reject")));
        using var dropped = gateway.CollectMetric<long>("gateway.outbound.dropped");
        using var rejected = gateway.CollectMetric<long>("gateway.outbound.rejected");
        await using var _ = gateway;
        await gateway.StartAsync();
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "connected to the stalled peer");

        var results = await FloodAsync(gateway);

        var sent = results.Count(r => r.Status == SendStatus.Sent);
        var queued = results.Count(r => r.Status == SendStatus.Queued);
        var queueFull = results.Count(r => r.Status == SendStatus.QueueFull);
        Assert.Equal(results.Count, sent + queued + queueFull); // nothing else
        Assert.True(queueFull > 0, $"never full: {string.Join(",", results.Select(r => r.Status))}");
        Assert.InRange(queued, 1, Capacity); // Queued only while there was room; the rest refused
        Assert.Equal(queueFull, rejected.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.reason", "queue_full")).EvaluateAsCounter());

        // The connection dies with messages queued: under Reject they are dropped, counted and logged, not lost silently.
        var written = gateway.Status("a").FramesSent;
        (await stalled.Task).Abort();
        await Eventually.TrueAsync(() => gateway.Logs.Gateway(119).Count == 1, "the drop at disconnect was reported");
        var droppedCount = dropped.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("gateway.reason", "disconnected")).EvaluateAsCounter();
        Assert.Equal(sent + queued, gateway.Status("a").FramesSent + droppedCount); // every accepted message: written, or dropped and counted
        Assert.Equal(written, gateway.Status("a").FramesSent); // nothing was written after the stall
        Assert.Contains($"{droppedCount} outbound messages not written ({droppedCount} of them reported as queued", gateway.Logs.Gateway(119)[0].Message, StringComparison.Ordinal);
        Assert.Equal(0, gateway.Status("a").OutboundDepth);
    }

    [Fact]
    public async Task Send_PeerStalledThenReset_UnderBuffer_QueuedMessagesWrittenOnceInOrderOnTheNextConnection()
    {
        var stalled = new TaskCompletionSource<RawPeerSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        var receivedLater = new ConcurrentQueue<int>();
        await using var peer = RawPeer.Start(async s =>
        {
            await s.AnswerUpgradeAsync();
            if (s.Number == 1)
            {
                stalled.TrySetResult(s);
                await s.StayOpenAsync();
                return;
            }

            while (await s.ReadClientFrameAsync(s.PeerStopping) is { Opcode: WsFrame.Binary } frame)
            {
                receivedLater.Enqueue(BinaryPrimitives.ReadInt32BigEndian(frame.Payload));
            }
        });
        var gateway = GatewayTestHost.Create(new TestConfig().Set("Gateway:ShutdownTimeout", "00:00:01").Socket("a", peer.Url(), Settings("Buffer")));
        using var dropped = gateway.CollectMetric<long>("gateway.outbound.dropped");
        await using var _ = gateway;
        await gateway.StartAsync();
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "connected to the stalled peer");

        var results = await FloodAsync(gateway);
        var sent = results.Where(r => r.Status == SendStatus.Sent).Select(r => r.Index).ToList();
        var queued = results.Where(r => r.Status == SendStatus.Queued).Select(r => r.Index).ToList();
        Assert.Contains(results, r => r.Status == SendStatus.QueueFull);
        Assert.InRange(queued.Count, 1, Capacity);

        (await stalled.Task).Abort();

        // Every accepted message written exactly once: the Sent ones on the first connection, the queued
        // ones on the second, in the order they were accepted; none dropped.
        await Eventually.TrueAsync(() => gateway.Status("a").FramesSent == sent.Count + queued.Count, "every accepted message was written");
        await Eventually.TrueAsync(() => receivedLater.Count >= queued.Count, "the second connection got the queued messages");
        Assert.Equal(queued, receivedLater);
        Assert.Empty(sent.Intersect(receivedLater));
        Assert.Equal(0, dropped.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(2, peer.Connections);
    }
}
