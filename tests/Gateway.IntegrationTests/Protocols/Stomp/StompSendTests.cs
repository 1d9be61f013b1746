using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>
/// Sends on a STOMP socket against a real RabbitMQ: a destination per message, transactions for
/// batches (all or nothing, even when the connection drops mid-batch), and the HTTP forms of both.
/// </summary>
[Collection(nameof(SharedBroker))]
public sealed class StompSendTests
{
    private const string Key = "test-key";

    private static TestConfig Stomp(Uri url, params string[] queues)
    {
        var settings = new List<(string, string?)>
        {
            ("Protocol", "Stomp"),
            ("Stomp:Login", RabbitMqBroker.Login),
            ("Stomp:Passcode", RabbitMqBroker.Passcode),
            ("Stomp:Subscriptions:0:Ack", "auto"),
            ("MaxMessageSize", "262144"),
            ("Outbound:SendTimeout", "00:00:30"),
            ("Reconnect:MinDelay", "00:00:00.100"),
        };
        for (var i = 0; i < queues.Length; i++)
        {
            settings.Add(($"Stomp:Subscriptions:{i}:Destination", $"/queue/{queues[i]}"));
        }

        return new TestConfig().Set("Gateway:Api:Key", Key).Socket("q", url, [.. settings]);
    }

    private static async Task<GatewayTestHost> ReadyAsync(TestConfig config)
    {
        var gateway = await GatewayTestHost.StartAsync(config);
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "connected and subscribed");
        return gateway;
    }

    [Fact]
    public async Task SendAndWait_DestinationHeaderPerMessage_ArrivesThereWithItsHeaders()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var (a, b) = (await broker.DeclareQueueAsync("dest-a"), await broker.DeclareQueueAsync("dest-b"));
        await using var gateway = await ReadyAsync(Stomp(RabbitMqBroker.WebStompUrl, a, b));

        var toB = await gateway.Sender.SendAndWaitAsync("q", OutboundMessage.Text("{\"n\":1}").WithHeader("destination", $"/queue/{b}").WithHeader("content-type", "application/json").WithHeader("x-trace", "t:1"));
        var toA = await gateway.Sender.SendAndWaitAsync("q", OutboundMessage.Text("plain").WithHeader("destination", $"/queue/{a}"));

        Assert.Equal((SendStatus.Confirmed, SendStatus.Confirmed), (toB.Status, toA.Status));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 2, "both delivered");
        var byDestination = gateway.Recorder.Frames.ToDictionary(f => f.Headers.Single(h => h.Key == "destination").Value);
        Assert.Equal("{\"n\":1}", byDestination[$"/queue/{b}"].Text);
        Assert.Equal("plain", byDestination[$"/queue/{a}"].Text);
        var headers = byDestination[$"/queue/{b}"].Headers.ToDictionary(h => h.Key, h => h.Value);
        Assert.Equal("application/json", headers["content-type"]);
        Assert.Equal("t:1", headers["x-trace"]);
    }

    [Fact]
    public async Task Send_NoDestinationAndNoDefault_InvalidAndTheConnectionStays()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("nodest");
        await using var gateway = await ReadyAsync(Stomp(RabbitMqBroker.WebStompUrl, queue));

        var result = await gateway.Sender.SendAsync("q", OutboundMessage.Text("where to?"));
        var reserved = await gateway.Sender.SendAsync("q", OutboundMessage.Text("x").WithHeader("destination", $"/queue/{queue}").WithHeader("receipt", "mine"));

        Assert.Equal(SendStatus.Invalid, result.Status);
        Assert.Equal("a STOMP send needs a destination: a 'destination' header (HTTP: ?destination=...) or Stomp:DefaultDestination", result.Error);
        Assert.Equal((SendStatus.Invalid, "the STOMP header 'receipt' is set by the gateway"), (reserved.Status, reserved.Error));
        Assert.Equal((SocketState.Ready, 0), (gateway.Status("q").State, gateway.Status("q").Reconnects));
    }

    [Fact]
    public async Task SendBatch_OneTransaction_ConfirmedAndDeliveredInOrder()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("batch");
        await using var gateway = await ReadyAsync(Stomp(RabbitMqBroker.WebStompUrl, queue));

        var messages = Enumerable.Range(1, 5).Select(i => OutboundMessage.Text($"b{i}").WithHeader("destination", $"/queue/{queue}")).ToList();
        var result = await gateway.Sender.SendBatchAsync("q", messages);

        Assert.Equal(SendStatus.Confirmed, result.Status);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5, "the batch delivered");
        Assert.Equal(["b1", "b2", "b3", "b4", "b5"], gateway.Recorder.Frames.Select(f => f.Text));
    }

    [Fact]
    public async Task SendBatch_ConnectionCutMidBatch_LostNothingOfItDeliveredAndTheRetryWhole()
    {
        const int count = 6;
        await using var broker = await RabbitMqBroker.RequireAsync();
        var queue = await broker.DeclareQueueAsync("cut");

        // The first connection is cut once 100 kB went upstream: inside the batch (6 x 32 KiB), after
        // BEGIN and a few SENDs, before the COMMIT. CONNECT and SUBSCRIBE are far smaller. The
        // forwarder takes in the rest of the batch first, so the gateway wrote it all (a write that
        // fails mid-batch is written again whole: OutboundPipelineTests).
        await using var cutter = await CuttingForwarder.StartAsync(RabbitMqBroker.WebStompUrl.Port, cutFirstAfter: 100_000);
        var url = new UriBuilder(RabbitMqBroker.WebStompUrl) { Port = cutter.Port }.Uri;
        await using var gateway = await ReadyAsync(Stomp(url, queue));
        var reconnects = gateway.Status("q").Reconnects;

        var padding = new string('x', 32 * 1024);
        var messages = Enumerable.Range(1, count).Select(i => OutboundMessage.Text($"c{i}:{padding}").WithHeader("destination", $"/queue/{queue}")).ToList();
        // The whole batch was written before the cut: the commit's fate is unknown.
        var first = await gateway.Sender.SendBatchAsync("q", messages);
        Assert.Equal(SendStatus.Lost, first.Status);
        Assert.True(cutter.CutAt > (2 * 33 * 1024) + 1024, $"cut inside the batch, after BEGIN and two SENDs reached the broker (at {cutter.CutAt} bytes)");
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready && gateway.Status("q").Reconnects == reconnects + 1, "reconnected and subscribed again");
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Empty(gateway.Recorder.Frames); // the broker discarded the uncommitted SENDs

        var retry = await gateway.Sender.SendBatchAsync("q", messages);

        Assert.Equal(SendStatus.Confirmed, retry.Status);
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count >= count, "the retried batch delivered");
        await Task.Delay(500, TestContext.Current.CancellationToken); // a duplicate would have come by now
        var texts = gateway.Recorder.Frames.Select(f => f.Text[..f.Text.IndexOf(':', StringComparison.Ordinal)]).ToList();
        Assert.Equal(Enumerable.Range(1, count).Select(i => $"c{i}"), texts);
        Assert.All(gateway.Recorder.Frames, f => Assert.Equal(reconnects + 2, f.Connection));
    }

    [Fact]
    public async Task HttpBatchAndDestination_QueryAndElementHeaders_ConfirmedAndDelivered()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var (a, b) = (await broker.DeclareQueueAsync("http-a"), await broker.DeclareQueueAsync("http-b"));
        await using var gateway = await ReadyAsync(Stomp(RabbitMqBroker.WebStompUrl, a, b));
        gateway.Http.DefaultRequestHeaders.Add("X-Api-Key", Key);

        using var single = await gateway.Http.PostAsync($"/sockets/q/messages?wait=true&destination=/queue/{a}&x-source=http", new StringContent("one", Encoding.UTF8, "text/plain"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, single.StatusCode);

        const string batch = """["two", {"json": {"k": [1, 2]}}, {"text": "four", "headers": {"destination": "/queue/B", "x-n": "4"}}, {"base64": "AAEC"}]""";
        using var batched = await gateway.Http.PostAsync($"/sockets/q/batch?destination=/queue/{a}", new StringContent(batch.Replace("/queue/B", $"/queue/{b}", StringComparison.Ordinal), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var answer = JsonDocument.Parse(await batched.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(HttpStatusCode.OK, batched.StatusCode);
        Assert.Equal("Confirmed", answer.GetProperty("status").GetString());

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5, "all five delivered");
        var frames = gateway.Recorder.Frames.ToList();
        string Destination(RecordedFrame f) => f.Headers.First(h => h.Key == "destination").Value;
        Assert.Equal(["one", "two", "{\"k\": [1, 2]}"], frames.Where(f => Destination(f) == $"/queue/{a}" && f.Payload[0] != 0).Select(f => f.Text));
        Assert.Equal("http", frames.Single(f => f.Text == "one").Headers.First(h => h.Key == "x-source").Value);
        Assert.Equal("four", frames.Single(f => Destination(f) == $"/queue/{b}").Text);
        Assert.Equal([0, 1, 2], frames.Single(f => f.Payload[0] == 0).Payload);

        // Bad input: a clear 400, nothing sent.
        using var notArray = await gateway.Http.PostAsync("/sockets/q/batch", new StringContent("{\"text\":\"x\"}", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        using var twoBodies = await gateway.Http.PostAsync("/sockets/q/batch", new StringContent("[{\"text\":\"x\",\"json\":1}]", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        using var noDestination = await gateway.Http.PostAsync("/sockets/q/batch", new StringContent("[\"x\"]", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, notArray.StatusCode);
        Assert.Contains("expected an array of messages", await notArray.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Contains("give exactly one of text, json or base64", await twoBodies.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noDestination.StatusCode);
        Assert.Equal("Invalid", JsonDocument.Parse(await noDestination.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("status").GetString());
        Assert.Equal(5, gateway.Recorder.Frames.Count);
    }

    /// <summary>
    /// A TCP forwarder on 127.0.0.1 that cuts the first connection to reach that many bytes upstream: the
    /// rest of what its client writes is read but not forwarded, and once the client is quiet the
    /// connection is reset. Later connections pass.
    /// </summary>
    private sealed class CuttingForwarder : IAsyncDisposable
    {
        private static readonly TimeSpan QuietBeforeCut = TimeSpan.FromMilliseconds(300);
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly int _target;
        private readonly long _cutFirstAfter;
        private readonly CancellationTokenSource _stop = new();
        private int _cut;
        private Task _accepting = Task.CompletedTask;

        private CuttingForwarder(int target, long cutFirstAfter)
        {
            _target = target;
            _cutFirstAfter = cutFirstAfter;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        /// <summary>Bytes forwarded upstream when the first connection was cut; 0 until then.</summary>
        public long CutAt { get; private set; }

        public static Task<CuttingForwarder> StartAsync(int target, long cutFirstAfter)
        {
            var forwarder = new CuttingForwarder(target, cutFirstAfter);
            forwarder._listener.Start();
            forwarder._accepting = forwarder.AcceptAsync();
            return Task.FromResult(forwarder);
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = ForwardAsync(client);
            }
        }

        private async Task ForwardAsync(TcpClient client)
        {
            using var upstream = new TcpClient();
            using (client)
            {
                try
                {
                    await upstream.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
                    var down = upstream.GetStream().CopyToAsync(client.GetStream(), _stop.Token);
                    var buffer = new byte[16 * 1024];
                    long forwarded = 0;
                    var stream = client.GetStream();
                    int read;
                    while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                    {
                        if (forwarded + read > _cutFirstAfter && Interlocked.Exchange(ref _cut, 1) == 0)
                        {
                            // Take in, without forwarding, all the client writes until it goes quiet (it
                            // waits for the commit's receipt), so its writes all returned; then reset.
                            CutAt = forwarded;
                            using (var quiet = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                            {
                                try
                                {
                                    do
                                    {
                                        quiet.CancelAfter(QuietBeforeCut);
                                    }
                                    while (await stream.ReadAsync(buffer, quiet.Token) > 0);
                                }
                                catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                                {
                                }
                            }

                            client.Client.LingerState = new LingerOption(true, 0); // RST both ways
                            upstream.Client.LingerState = new LingerOption(true, 0);
                            return;
                        }

                        await upstream.GetStream().WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                        forwarded += read;
                    }

                    await down;
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
