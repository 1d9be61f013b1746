using System.Net.WebSockets;
using System.Text;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>
/// The broker set-up itself (<c>.ci/rabbitmq.sh</c>, <see cref="RabbitMqBroker"/>) over a real
/// connection, without the gateway's STOMP code: a plain <see cref="ClientWebSocket"/> speaks
/// hand-written STOMP 1.2 frames to RabbitMQ's web-stomp, and RabbitMQ.Client publishes over AMQP.
/// </summary>
[Collection(nameof(SharedBroker))]
public sealed class RabbitMqSmokeTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WebStomp_SubscribePublishAck_MessageDeliveredOnceAndQueueEndsEmpty()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(s_timeout);
        var ct = cts.Token;
        var queue = await broker.DeclareQueueAsync("smoke", ct);

        using var ws = new ClientWebSocket();
        foreach (var subprotocol in new[] { "v12.stomp", "v11.stomp", "v10.stomp" })
        {
            ws.Options.AddSubProtocol(subprotocol);
        }

        await ws.ConnectAsync(RabbitMqBroker.WebStompUrl, ct);
        Assert.Equal("v12.stomp", ws.SubProtocol); // RabbitMQ picks the highest version offered
        var stomp = new StompPeer(ws);

        await stomp.SendAsync("CONNECT", ct, ("accept-version", "1.2"), ("host", RabbitMqBroker.VirtualHost),
            ("login", RabbitMqBroker.Login), ("passcode", RabbitMqBroker.Passcode), ("heart-beat", "0,0"));
        var connected = await stomp.ReceiveAsync(ct);
        Assert.Equal("CONNECTED", connected.Command);
        Assert.Equal("1.2", connected.Headers["version"]);

        // A receipt says the subscription is in place (and that /queue/ accepted the queue we declared).
        await stomp.SendAsync("SUBSCRIBE", ct, ("id", "0"), ("destination", $"/queue/{queue}"),
            ("ack", "client-individual"), ("receipt", "subscribed"));
        var receipt = await stomp.ReceiveAsync(ct);
        Assert.Equal(("RECEIPT", "subscribed"), (receipt.Command, receipt.Headers.GetValueOrDefault("receipt-id")));

        await broker.PublishAsync(queue, "hello over web-stomp", cancellationToken: ct);

        var message = await stomp.ReceiveAsync(ct);
        Assert.Equal("MESSAGE", message.Command);
        Assert.Equal("hello over web-stomp", message.Body);
        Assert.Equal("0", message.Headers["subscription"]);
        Assert.Equal($"/queue/{queue}", message.Headers["destination"]);
        Assert.Equal("true", message.Headers["persistent"]);
        var ackId = message.Headers["ack"]; // STOMP 1.2: ACK with the message's ack header as id

        // Delivered, not yet acknowledged: the broker holds it as unacked.
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 1, cancellationToken: ct);

        await stomp.SendAsync("ACK", ct, ("id", ackId), ("receipt", "acked"));
        receipt = await stomp.ReceiveAsync(ct);
        Assert.Equal(("RECEIPT", "acked"), (receipt.Command, receipt.Headers.GetValueOrDefault("receipt-id")));

        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 0, unacked: 0, cancellationToken: ct);
        Assert.Equal((0u, 1u), await broker.GetReadyAsync(queue, ct));

        // RabbitMQ 3.10 answers DISCONNECT by closing the WebSocket (1000, "STOMP died") without the
        // RECEIPT the spec asks for; a RECEIPT (newer versions) is fine too, any other frame is not:
        // the message was delivered once.
        await stomp.SendAsync("DISCONNECT", ct, ("receipt", "bye"));
        var after = await stomp.ReceiveUntilCloseAsync(ct);
        Assert.All(after, f => Assert.Equal(("RECEIPT", "bye"), (f.Command, f.Headers.GetValueOrDefault("receipt-id"))));
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
    }

    [Fact]
    public async Task PublishMany_5000Persistent_AllReadyCountedAndPurged()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var ct = TestContext.Current.CancellationToken;
        var queue = await broker.DeclareQueueAsync("many", ct);

        var started = System.Diagnostics.Stopwatch.StartNew();
        await broker.PublishManyAsync(queue, 5000, cancellationToken: ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"5000 persistent messages confirmed in {started.ElapsedMilliseconds} ms");

        Assert.Equal((5000u, 0u), await broker.GetReadyAsync(queue, ct));
        await RabbitMqBroker.WaitForDepthAsync(queue, ready: 5000, unacked: 0, cancellationToken: ct);
        Assert.Equal(5000u, await broker.PurgeAsync(queue, ct));
        Assert.Equal((0u, 0u), await broker.GetReadyAsync(queue, ct));
    }

    private sealed record StompFrame(string Command, Dictionary<string, string> Headers, string Body);

    /// <summary>Just enough STOMP for the smoke test: frames as text, split at NUL, heart-beat EOLs skipped.</summary>
    private sealed class StompPeer(ClientWebSocket ws)
    {
        private readonly StringBuilder _buffer = new();

        public string Unread => _buffer.ToString().TrimStart('\n', '\r');

        public Task SendAsync(string command, CancellationToken ct, params (string Name, string Value)[] headers)
        {
            var frame = new StringBuilder(command).Append('\n');
            foreach (var (name, value) in headers)
            {
                frame.Append(name).Append(':').Append(value).Append('\n');
            }

            frame.Append('\n').Append('\0');
            return ws.SendAsync(Encoding.UTF8.GetBytes(frame.ToString()), WebSocketMessageType.Text, true, ct);
        }

        public async Task<StompFrame> ReceiveAsync(CancellationToken ct)
        {
            var chunk = new byte[16 * 1024];
            while (true)
            {
                var text = Unread;
                var end = text.IndexOf('\0', StringComparison.Ordinal);
                if (end >= 0)
                {
                    _buffer.Clear().Append(text.AsSpan(end + 1));
                    return Parse(text[..end]);
                }

                var result = await ws.ReceiveAsync(chunk, ct);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new InvalidOperationException($"web-stomp closed the connection ({ws.CloseStatus} {ws.CloseStatusDescription}); unread: {text}");
                }

                _buffer.Append(Encoding.UTF8.GetString(chunk, 0, result.Count));
            }
        }

        /// <summary>Frames until the server's close frame (answered).</summary>
        public async Task<List<StompFrame>> ReceiveUntilCloseAsync(CancellationToken ct)
        {
            var frames = new List<StompFrame>();
            try
            {
                while (true)
                {
                    frames.Add(await ReceiveAsync(ct));
                }
            }
            catch (InvalidOperationException) when (ws.State == WebSocketState.CloseReceived)
            {
                Assert.Empty(Unread);
                await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
                return frames;
            }
        }

        private static StompFrame Parse(string frame)
        {
            var split = frame.IndexOf("\n\n", StringComparison.Ordinal);
            var head = (split < 0 ? frame : frame[..split]).Split('\n');
            var headers = new Dictionary<string, string>();
            foreach (var line in head.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                headers.TryAdd(line[..colon], line[(colon + 1)..]); // STOMP: the first occurrence wins
            }

            var result = new StompFrame(head[0], headers, split < 0 ? "" : frame[(split + 2)..]);
            return result.Command == "ERROR"
                ? throw new InvalidOperationException($"web-stomp sent ERROR: {result.Headers.GetValueOrDefault("message")} {result.Body}")
                : result;
        }
    }
}
