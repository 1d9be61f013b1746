using System.Text;
using System.Text.Json;
using Gateway.Host.Health;
using Gateway.Testing;
using Gateway.Host.StatusPage;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.StatusPage;

public sealed class StatusEventStreamTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly FakeLogger<StatusEventStream> _logger = new();
    private readonly SocketHealthTracker _tracker = new();

    public void Dispose() => _logger.Collector.Clear();

    private StatusEventStream CreateStream(int clientCapacity = StatusEventStream.DefaultClientCapacity, int maxClients = StatusEventStream.DefaultMaxClients)
        => new(_tracker, _time, _logger, clientCapacity, maxClients);

    [Fact]
    public void TryConnect_MaxClientsConnected_RefusedUntilOneLeaves()
    {
        using var stream = CreateStream(maxClients: 2);
        var first = stream.TryConnect();
        using var second = stream.TryConnect();

        var third = stream.TryConnect();
        first!.Dispose();
        using var fourth = stream.TryConnect();

        Assert.Null(third);
        Assert.NotNull(second);
        Assert.NotNull(fourth);
        Assert.Equal(2, stream.ClientCount);
    }

    private SocketStatus AddSocket(string name, string url = "ws://127.0.0.1:9000/ws")
    {
        var status = new SocketStatus(name, "Raw", required: true, url);
        status.TrySetState(SocketState.Ready, _time.GetUtcNow(), 0);
        _tracker.Add(status);
        return status;
    }

    /// <summary>A stream with one client that has read its snapshot.</summary>
    private async Task<Watching> WatchAsync()
    {
        var stream = CreateStream();
        var client = stream.TryConnect()!;
        Assert.Equal("snapshot", (await NextAsync(client)).Event);
        return new Watching(stream, client);
    }

    private static async Task<(string Event, JsonElement Data)> NextAsync(StatusEventClient client)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        var message = Encoding.UTF8.GetString(await client.Events.ReadAsync(timeout.Token));
        Assert.EndsWith("\n\n", message, StringComparison.Ordinal);
        var lines = message.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length); // one event line, one data line: the JSON has no newline
        Assert.StartsWith("event: ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("data: ", lines[1], StringComparison.Ordinal);
        using var document = JsonDocument.Parse(lines[1]["data: ".Length..]);
        return (lines[0]["event: ".Length..], document.RootElement.Clone());
    }

    /// <summary>Advances the clock one rate interval and waits for the rates event it causes.</summary>
    private async Task<JsonElement> NextRatesAsync(StatusEventClient client)
    {
        _time.Advance(StatusEventStream.RateInterval);
        var (name, data) = await NextAsync(client);
        Assert.Equal("rates", name);
        return data;
    }

    [Fact]
    public async Task Connect_SocketsRunning_FirstEventIsASnapshotOfEverySocketWithItsRedactedUrl()
    {
        AddSocket("b");
        var a = AddSocket("a", "ws://127.0.0.1:9000/ws?redacted");
        a.RecordError("connection refused", null);
        using var stream = CreateStream();
        using var client = stream.TryConnect()!;

        var (name, data) = await NextAsync(client);

        Assert.Equal("snapshot", name);
        var sockets = data.GetProperty("sockets").EnumerateArray().ToList();
        Assert.Equal(["a", "b"], sockets.Select(s => s.GetProperty("name").GetString()));
        Assert.Equal("Ready", sockets[0].GetProperty("state").GetString());
        Assert.Equal("ws://127.0.0.1:9000/ws?redacted", sockets[0].GetProperty("url").GetString());
        Assert.Equal("connection refused", sockets[0].GetProperty("lastError").GetString());
    }

    [Fact]
    public async Task StateChange_AfterSnapshot_ChangesEventCarriesTheNewRowAndTheDisconnectReason()
    {
        var status = AddSocket("a");
        using var watching = await WatchAsync();
        var client = watching.Client;

        status.RecordDisconnect(new DisconnectReason(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, "restart", null, ClosedByGateway: false) { Kind = DisconnectKind.ServerClosed }, "server_closed", "server closed with 1001 'restart'", _time.GetUtcNow());
        status.TrySetState(SocketState.Waiting, _time.GetUtcNow(), 1);

        // The two changes may come as one event or two; the last row says Waiting.
        JsonElement row;
        do
        {
            var (name, data) = await NextAsync(client);
            Assert.Equal("changes", name);
            Assert.Empty(data.GetProperty("removed").EnumerateArray());
            row = data.GetProperty("sockets").EnumerateArray().Single();
        }
        while (row.GetProperty("state").GetString() != "Waiting");

        Assert.Equal(1001, row.GetProperty("lastCloseStatus").GetInt32());
        var recent = row.GetProperty("recentDisconnects").EnumerateArray().Single();
        Assert.Equal("server_closed", recent.GetProperty("reason").GetString());
        Assert.Equal("server closed with 1001 'restart'", recent.GetProperty("description").GetString());
        Assert.Equal("server", recent.GetProperty("closedBy").GetString());
    }

    [Fact]
    public async Task Remove_SocketRemoved_ChangesEventNamesItAsRemoved()
    {
        var status = AddSocket("a");
        using var watching = await WatchAsync();
        var client = watching.Client;

        _tracker.Remove(status);

        var (name, data) = await NextAsync(client);
        Assert.Equal("changes", name);
        Assert.Empty(data.GetProperty("sockets").EnumerateArray());
        Assert.Equal("a", data.GetProperty("removed").EnumerateArray().Single().GetString());
    }

    [Fact]
    public async Task Tick_FramesFlowing_OneRatesEventPerSecondForAllSocketsWithFramesPerSecond()
    {
        var a = AddSocket("a");
        var b = AddSocket("b");
        using var watching = await WatchAsync();
        var client = watching.Client;

        for (var i = 0; i < 5; i++)
        {
            a.AddReceived(10);
        }

        b.AddSent(3);
        b.AddDropped();
        b.AddHandlerError();
        var rates = await NextRatesAsync(client);

        var bySocket = rates.GetProperty("sockets").EnumerateArray().ToDictionary(s => s.GetProperty("n").GetString()!);
        Assert.Equal(2, bySocket.Count);
        Assert.Equal(5, bySocket["a"].GetProperty("i").GetDouble());
        Assert.Equal(0, bySocket["a"].GetProperty("o").GetDouble());
        Assert.Equal(1, bySocket["b"].GetProperty("o").GetDouble());
        Assert.Equal(1, bySocket["b"].GetProperty("d").GetInt64());
        Assert.Equal(1, bySocket["b"].GetProperty("e").GetInt64());

        // The next second counts from this one.
        a.AddReceived(10);
        rates = await NextRatesAsync(client);
        Assert.Equal(1, rates.GetProperty("sockets").EnumerateArray().Single(s => s.GetProperty("n").GetString() == "a").GetProperty("i").GetDouble());
    }

    [Fact]
    public async Task Tick_SubscriptionChangesWithoutATransition_RowSentAgainThenRatesWithItsMessages()
    {
        var status = AddSocket("a");
        var subscription = new SubscriptionStatus("0", "/queue/a");
        status.Subscriptions = [subscription];
        using var watching = await WatchAsync();
        var client = watching.Client;

        subscription.SetSubscribed();
        subscription.AddMessage(_time.GetUtcNow());
        _time.Advance(StatusEventStream.RateInterval);

        var (name, data) = await NextAsync(client);
        Assert.Equal("changes", name);
        Assert.Equal("Subscribed", data.GetProperty("sockets")[0].GetProperty("subscriptions")[0].GetProperty("state").GetString());
        (name, data) = await NextAsync(client);
        Assert.Equal("rates", name);
        var messages = data.GetProperty("sockets")[0].GetProperty("m")[0];
        Assert.Equal(1, messages[0].GetInt64());
        Assert.Equal(_time.GetUtcNow().AddSeconds(-1).ToUnixTimeMilliseconds(), messages[1].GetInt64());

        // Only messages since: no row again.
        subscription.AddMessage(_time.GetUtcNow());
        Assert.Equal(2, (await NextRatesAsync(client)).GetProperty("sockets")[0].GetProperty("m")[0][0].GetInt64());
    }

    [Fact]
    public async Task Tick_SocketAtRest_SentAtRestOnceThenLeftOutUntilItMovesAgain()
    {
        var a = AddSocket("a");
        using var watching = await WatchAsync();
        var client = watching.Client;
        static string[] Names(JsonElement rates) => [.. rates.GetProperty("sockets").EnumerateArray().Select(s => s.GetProperty("n").GetString()!)];

        Assert.Equal(["a"], Names(await NextRatesAsync(client))); // the first after joining has every socket
        Assert.Empty(Names(await NextRatesAsync(client)));        // at rest, and the page knows it

        a.AddReceived(1);
        Assert.Equal(1, (await NextRatesAsync(client)).GetProperty("sockets")[0].GetProperty("i").GetDouble());
        Assert.Equal(0, (await NextRatesAsync(client)).GetProperty("sockets")[0].GetProperty("i").GetDouble()); // back to 0, said once
        Assert.Empty(Names(await NextRatesAsync(client)));
    }

    [Fact]
    public async Task Tick_QueueDepth_ReadFromTheSocket()
    {
        var a = AddSocket("a");
        a.Queue = new FixedDepth(42);
        using var watching = await WatchAsync();
        var client = watching.Client;

        var rates = await NextRatesAsync(client);

        Assert.Equal(42, rates.GetProperty("sockets")[0].GetProperty("q").GetInt32());
    }

    [Fact]
    public async Task Tick_NoClient_NoEventQueuedAndNoTimerWork()
    {
        AddSocket("a");
        using var stream = CreateStream();
        _time.Advance(TimeSpan.FromSeconds(5));

        using var client = stream.TryConnect()!;

        Assert.Equal("snapshot", (await NextAsync(client)).Event);
        Assert.False(client.Events.TryPeek(out _));
    }

    [Fact]
    public async Task Broadcast_ClientNeverReads_DroppedOnceItsBoundedQueueIsFullAndCountedAndLogged()
    {
        AddSocket("a");
        const int capacity = 4;
        using var stream = CreateStream(capacity);
        using var slow = stream.TryConnect()!;
        using var reader = stream.TryConnect()!;
        await Eventually.TrueAsync(() => slow.Events.Count == 1 && reader.Events.Count == 1, "both clients have their snapshot");
        await NextAsync(reader);

        for (var i = 1; i < capacity; i++)
        {
            await NextRatesAsync(reader);
        }

        Assert.Equal(capacity, slow.Events.Count);
        Assert.False(slow.Dropped.IsCancellationRequested);

        // One event more than the queue holds: the slow client goes, the reading one stays.
        await NextRatesAsync(reader);
        await Eventually.TrueAsync(() => slow.Dropped.IsCancellationRequested, "the slow client is dropped");
        Assert.Equal(1, stream.SlowClientsDropped);
        Assert.Equal(capacity, slow.Events.Count); // never more than its capacity
        Assert.Equal(800, Assert.Single(_logger.Collector.GetSnapshot(), r => r.Id.Id == 800).Id.Id);
        await NextRatesAsync(reader);
        Assert.Equal(1, stream.SlowClientsDropped);
    }

    [Fact]
    public async Task Dispose_ClientLeaves_NotCountedAnyMore()
    {
        AddSocket("a");
        using var stream = CreateStream();
        var client = stream.TryConnect()!;
        await NextAsync(client);
        Assert.Equal(1, stream.ClientCount);

        client.Dispose();

        Assert.Equal(0, stream.ClientCount);
        Assert.True(client.IsClosed);
    }

    private sealed class Watching(StatusEventStream stream, StatusEventClient client) : IDisposable
    {
        public StatusEventClient Client { get; } = client;

        public void Dispose()
        {
            Client.Dispose();
            stream.Dispose();
        }
    }
}

internal sealed class FixedDepth(int depth) : Gateway.Host.Health.IDepth
{
    public int Depth => depth;
}
