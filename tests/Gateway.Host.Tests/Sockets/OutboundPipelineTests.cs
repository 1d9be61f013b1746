using System.Buffers;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Gateway.Host.Sockets;
using Gateway.Host.Tests.Transport;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Sockets;

public sealed class OutboundPipelineTests : IDisposable
{
    private static readonly TimeSpan s_replyTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_waitLimit = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly SocketStatus _status = new("s", "Raw", required: true, "ws://upstream/");
    private readonly CancellationTokenSource _connection = new();
    private readonly FakeSession _session = new();
    private WebSocketPair _pair = WebSocketPair.Create();

    public void Dispose()
    {
        _connection.Cancel();
        _pair.Dispose();
        _services.Dispose();
        _connection.Dispose();
    }

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private OutboundPipeline Pipeline(OutboundPolicy policy = OutboundPolicy.Buffer, int capacity = 16)
    {
        var options = new SocketOptions
        {
            ReplyTimeout = s_replyTimeout,
            Outbound = new OutboundOptions { WhileDisconnected = policy, Capacity = capacity },
        };
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>(), new SocketHealthTracker());
        return new OutboundPipeline("s", options, new Host.Protocols.Raw.RawProtocol(_time), new JsonOutboundEncoder(), metrics, _status, _time, new FakeLogger<OutboundPipeline>());
    }

    private OutboundPipeline AttachedPipeline(OutboundPolicy policy = OutboundPolicy.Buffer)
    {
        var pipeline = Pipeline(policy);
        pipeline.Attach(_pair.Client, _session, _connection.Token);
        return pipeline;
    }

    private static Task<SendOutcome> SendAsync(OutboundPipeline pipeline, string text, bool waitForConfirmation)
        => pipeline.SendAsync(OutboundMessage.Text(text), stopping: false, waitForConfirmation, Cancellation).AsTask();

    private async Task<string> ReadTextAsync()
    {
        var (type, payload) = await _pair.ReadOnServerAsync(Cancellation).WaitAsync(s_waitLimit, Cancellation);
        Assert.Equal(WebSocketMessageType.Text, type);
        return Encoding.UTF8.GetString(payload);
    }

    [Fact]
    public async Task SendAsync_NoConfirmationWanted_SentOnceWritten()
    {
        var pipeline = AttachedPipeline();

        var outcome = await SendAsync(pipeline, "hello", waitForConfirmation: false).WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(new SendOutcome(SendStatus.Sent), outcome);
        Assert.Equal("hello", await ReadTextAsync());
        Assert.Equal(1, _status.FramesSent);
    }

    [Fact]
    public async Task SendAsync_ProtocolConfirmsByWriting_WaitForConfirmationSent()
    {
        var pipeline = AttachedPipeline();

        var outcome = await SendAsync(pipeline, "hello", waitForConfirmation: true).WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(SendStatus.Sent, outcome.Status);
        Assert.Equal("hello", await ReadTextAsync());
    }

    [Fact]
    public async Task SendAsync_EncodedBySession_WritesWhatTheSessionEncoded()
    {
        _session.Prefix = "frame:";
        var pipeline = AttachedPipeline();

        await SendAsync(pipeline, "body", waitForConfirmation: false).WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal("frame:body", await ReadTextAsync());
    }

    [Fact]
    public async Task SendAsync_ReplyArrives_ConfirmedWithTheReplyBody()
    {
        _session.ReplyKey = 42;
        var pipeline = AttachedPipeline();

        var sending = SendAsync(pipeline, "order", waitForConfirmation: true);
        Assert.Equal("order", await ReadTextAsync());
        Assert.False(sending.IsCompleted);
        pipeline.CompleteReply(42, SendStatus.Confirmed, "receipt-42"u8);
        var outcome = await sending.WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(SendStatus.Confirmed, outcome.Status);
        Assert.Equal("receipt-42", Encoding.UTF8.GetString(outcome.Reply!));
    }

    [Fact]
    public async Task SendAsync_ReplyArrivesBeforeTheWriteReturned_ConfirmedWithTheReplyBody()
    {
        // A server may answer as soon as the bytes are on the wire, before the send loop sees its write complete.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pair.ClientStream.AfterWrite = _ => release.Task;
        _session.ReplyKey = 7;
        var pipeline = AttachedPipeline();

        var sending = SendAsync(pipeline, "order", waitForConfirmation: true);
        Assert.Equal("order", await ReadTextAsync());
        pipeline.CompleteReply(7, SendStatus.Confirmed, "ok"u8);
        release.SetResult();
        var outcome = await sending.WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(SendStatus.Confirmed, outcome.Status);
        Assert.Equal("ok", Encoding.UTF8.GetString(outcome.Reply!));
    }

    [Fact]
    public async Task CompleteReply_UnknownKey_Ignored()
    {
        _session.ReplyKey = 1;
        var pipeline = AttachedPipeline();
        var sending = SendAsync(pipeline, "order", waitForConfirmation: true);
        await ReadTextAsync();

        pipeline.CompleteReply(2, SendStatus.Confirmed, "other"u8);
        pipeline.CompleteReply(1, SendStatus.Refused, "no"u8);

        Assert.Equal(SendStatus.Refused, (await sending.WaitAsync(s_waitLimit, Cancellation)).Status);
    }

    [Fact]
    public async Task OnTick_NoReplyWithinReplyTimeout_NoReply()
    {
        _session.ReplyKey = 42;
        var pipeline = AttachedPipeline();
        var sending = SendAsync(pipeline, "order", waitForConfirmation: true);
        await ReadTextAsync();

        _time.Advance(s_replyTimeout - TimeSpan.FromTicks(1));
        pipeline.OnTick(_time.GetTimestamp());
        Assert.False(sending.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));
        pipeline.OnTick(_time.GetTimestamp());
        var outcome = await sending.WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(new SendOutcome(SendStatus.NoReply), outcome);
        pipeline.CompleteReply(42, SendStatus.Confirmed, "late"u8); // too late: ignored
    }

    [Fact]
    public async Task DetachAsync_WhileAwaitingReply_Lost()
    {
        _session.ReplyKey = 42;
        var pipeline = AttachedPipeline();
        var sending = SendAsync(pipeline, "order", waitForConfirmation: true);
        await ReadTextAsync();

        await _connection.CancelAsync();
        await pipeline.DetachAsync().WaitAsync(s_waitLimit, Cancellation);
        var outcome = await sending.WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(new SendOutcome(SendStatus.Lost), outcome);
    }

    [Fact]
    public async Task SendControlAsync_WhileAttached_WrittenAndCounted()
    {
        var pipeline = AttachedPipeline();

        await pipeline.SendControlAsync(_pair.Client, "CONNECT"u8.ToArray(), FrameKind.Text, Cancellation).AsTask().WaitAsync(s_waitLimit, Cancellation);
        await pipeline.SendControlAsync(_pair.Client, new byte[] { 1, 2, 3 }, FrameKind.Binary, Cancellation).AsTask().WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal("CONNECT", await ReadTextAsync());
        var (type, payload) = await _pair.ReadOnServerAsync(Cancellation);
        Assert.Equal((WebSocketMessageType.Binary, 3), (type, payload.Length));
        Assert.Equal((2L, 10L), (_status.FramesSent, _status.BytesSent));
    }

    [Fact]
    public async Task SendControlAsync_BeforeAttach_WrittenWhileUserSendsWait()
    {
        var pipeline = Pipeline();
        var queued = await SendAsync(pipeline, "user", waitForConfirmation: false);

        await pipeline.SendControlAsync(_pair.Client, "handshake"u8.ToArray(), FrameKind.Text, Cancellation);
        pipeline.Attach(_pair.Client, _session, _connection.Token);

        Assert.Equal(SendStatus.Queued, queued.Status);
        Assert.Equal("handshake", await ReadTextAsync());
        Assert.Equal("user", await ReadTextAsync());
    }

    [Fact]
    public async Task PostControl_WhileAttached_Written()
    {
        var pipeline = AttachedPipeline();

        Assert.True(pipeline.PostControl(_pair.Client, "ACK"u8.ToArray(), FrameKind.Text, _connection.Token));

        Assert.Equal("ACK", await ReadTextAsync());
    }

    [Fact]
    public async Task PostControl_PeerNeverReads_RefusedBeyondItsBound()
    {
        _pair.Dispose();
        _pair = WebSocketPair.Create(pauseWriterThreshold: 1024);
        var pipeline = AttachedPipeline();
        var big = new byte[4096];

        // The first write cannot finish (the peer reads nothing); the others wait behind it.
        var accepted = 0;
        while (pipeline.PostControl(_pair.Client, big, FrameKind.Binary, _connection.Token) && accepted < 10_000)
        {
            accepted++;
        }

        Assert.Equal(1024, accepted);
        var (_, first) = await _pair.ReadOnServerAsync(Cancellation).WaitAsync(s_waitLimit, Cancellation);
        Assert.Equal(big.Length, first.Length);
    }

    [Fact]
    public async Task SendAsync_NotAttachedUnderBuffer_QueuedThenFlushedInOrderOnAttach()
    {
        var pipeline = Pipeline(OutboundPolicy.Buffer);

        var first = await SendAsync(pipeline, "one", waitForConfirmation: false);
        var second = await SendAsync(pipeline, "two", waitForConfirmation: false);
        var third = SendAsync(pipeline, "three", waitForConfirmation: true);
        Assert.Equal((SendStatus.Queued, SendStatus.Queued), (first.Status, second.Status));
        Assert.False(third.IsCompleted);
        Assert.Equal(0, _status.FramesSent);
        pipeline.Attach(_pair.Client, _session, _connection.Token);

        Assert.Equal(["one", "two", "three"], [await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync()]);
        Assert.Equal(SendStatus.Sent, (await third.WaitAsync(s_waitLimit, Cancellation)).Status);
    }

    [Fact]
    public async Task SendAsync_NotAttachedUnderReject_NotConnected()
    {
        var pipeline = Pipeline(OutboundPolicy.Reject);

        var outcome = await SendAsync(pipeline, "one", waitForConfirmation: false);
        var confirmed = await SendAsync(pipeline, "two", waitForConfirmation: true);

        Assert.Equal((SendStatus.NotConnected, SendStatus.NotConnected), (outcome.Status, confirmed.Status));
        Assert.Equal(0, _status.OutboundDepth());
    }

    [Fact]
    public async Task SendAsync_QueueFull_QueueFull()
    {
        var pipeline = Pipeline(OutboundPolicy.Buffer, capacity: 2);

        await SendAsync(pipeline, "one", waitForConfirmation: false);
        await SendAsync(pipeline, "two", waitForConfirmation: false);
        var outcome = await SendAsync(pipeline, "three", waitForConfirmation: false);

        Assert.Equal(SendStatus.QueueFull, outcome.Status);
        Assert.Equal(2, _status.OutboundDepth());
    }

    [Fact]
    public async Task SendAsync_Stopping_Stopped()
    {
        var pipeline = AttachedPipeline();

        var outcome = await pipeline.SendAsync(OutboundMessage.Text("x"), stopping: true, waitForConfirmation: true, Cancellation);

        Assert.Equal(SendStatus.Stopped, outcome.Status);
    }

    [Fact]
    public async Task SendAsync_HeadersOnARawSocket_InvalidWithTheReasonAndNothingQueued()
    {
        var pipeline = AttachedPipeline();

        var outcome = await pipeline.SendAsync(OutboundMessage.Text("x").WithHeader("destination", "/q"), stopping: false, waitForConfirmation: false, Cancellation);

        Assert.Equal(SendStatus.Invalid, outcome.Status);
        Assert.Equal("a Raw socket sends no headers (got 'destination')", outcome.Error);
        Assert.Equal(0, _status.OutboundDepth());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public async Task SendBatchAsync_EmptyOrOverCapacity_Invalid(int count)
    {
        var pipeline = AttachedPipeline();

        var outcome = await pipeline.SendBatchAsync([.. Enumerable.Repeat(OutboundMessage.Text("x"), count)], stopping: false, Cancellation);

        Assert.Equal(SendStatus.Invalid, outcome.Status);
        Assert.Equal($"a batch holds 1 to Outbound:Capacity (16) messages, not {count}", outcome.Error);
    }

    [Fact]
    public async Task SendBatchAsync_NoTransactions_WrittenBackToBackThenSent()
    {
        var pipeline = AttachedPipeline();

        var outcome = await pipeline.SendBatchAsync([OutboundMessage.Text("a"), OutboundMessage.Text("b"), OutboundMessage.Text("c")], stopping: false, Cancellation).AsTask().WaitAsync(s_waitLimit, Cancellation);

        Assert.Equal(SendStatus.Sent, outcome.Status);
        Assert.Equal(["a", "b", "c"], [await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync()]);
    }

    [Fact]
    public async Task SendBatchAsync_Transactional_FramedAndConfirmedByTheCommitReply()
    {
        _session.Transactional = true;
        _session.ReplyKey = 9;
        var pipeline = AttachedPipeline();

        var sending = pipeline.SendBatchAsync([OutboundMessage.Text("a"), OutboundMessage.Text("b")], stopping: false, Cancellation).AsTask();
        Assert.Equal(["begin", "a", "b", "commit"], [await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync()]);
        Assert.False(sending.IsCompleted);
        pipeline.CompleteReply(9, SendStatus.Confirmed, default);

        Assert.Equal(SendStatus.Confirmed, (await sending.WaitAsync(s_waitLimit, Cancellation)).Status);
    }

    [Fact]
    public async Task SendBatchAsync_SenderCancelsMidBatch_AbortedAndTheRestNotWritten()
    {
        _session.Transactional = true;
        _session.ReplyKey = 9;
        using var cancel = new CancellationTokenSource();
        var sending = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var writes = 0;
        _pair.ClientStream.AfterWrite = async _ =>
        {
            if (Interlocked.Increment(ref writes) == 2)
            {
                // "a" is on the wire: the sender gives up before "b".
                await cancel.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await await sending.Task);
            }
        };
        var pipeline = AttachedPipeline();

        sending.SetResult(pipeline.SendBatchAsync([OutboundMessage.Text("a"), OutboundMessage.Text("b"), OutboundMessage.Text("c")], stopping: false, cancel.Token).AsTask());

        Assert.Equal(["begin", "a", "abort"], [await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync()]);
        await Eventually.TrueAsync(() => _status.OutboundDepth() == 0, "the batch left the queue");
        Assert.Equal(3, _status.FramesSent);
    }

    [Fact]
    public async Task SendBatchAsync_WriteFailsMidBatch_WrittenAgainWholeOnTheNextConnection()
    {
        _session.Transactional = true;
        _session.ReplyKey = 9;
        var writes = 0;
        _pair.ClientStream.AfterWrite = _ => Interlocked.Increment(ref writes) == 2 ? throw new IOException("connection reset") : Task.CompletedTask;
        var pipeline = AttachedPipeline();

        var sending = pipeline.SendBatchAsync([OutboundMessage.Text("a"), OutboundMessage.Text("b")], stopping: false, Cancellation).AsTask();
        Assert.Equal(["begin", "a"], [await ReadTextAsync(), await ReadTextAsync()]);
        await Eventually.TrueAsync(() => _pair.Client.State == WebSocketState.Aborted, "the failed write aborted the socket");
        await _connection.CancelAsync();
        await pipeline.DetachAsync().WaitAsync(s_waitLimit, Cancellation);
        Assert.False(sending.IsCompleted); // no commit was written: nothing of it is in effect, so it waits for the next connection
        _pair.Dispose();
        _pair = WebSocketPair.Create();
        using var next = new CancellationTokenSource();
        pipeline.Attach(_pair.Client, _session, next.Token);

        Assert.Equal(["begin", "a", "b", "commit"], [await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync(), await ReadTextAsync()]);
        pipeline.CompleteReply(9, SendStatus.Confirmed, default);
        Assert.Equal(SendStatus.Confirmed, (await sending.WaitAsync(s_waitLimit, Cancellation)).Status);
    }

    /// <summary>Encodes a send as <see cref="Prefix"/> + payload, confirmed by a reply when <see cref="ReplyKey"/> is non-zero.</summary>
    private sealed class FakeSession : IProtocolSession
    {
        public long ReplyKey { get; set; }

        public string Prefix { get; set; } = string.Empty;

        public ValueTask StartAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
        {
            frame = new InboundFrame(0, message.Length);
            return ReceiveDecision.Deliver;
        }

        public ReadOnlyMemory<byte> Encode(in OutboundPart part, ArrayBufferWriter<byte> scratch, out FrameKind wireKind, out long replyKey)
        {
            var payload = part.Payload.AsMemory();
            wireKind = part.Kind;
            replyKey = ReplyKey;
            if (Prefix.Length == 0)
            {
                return payload;
            }

            Encoding.UTF8.GetBytes(Prefix, scratch);
            scratch.Write(payload.Span);
            return scratch.WrittenMemory;
        }

        /// <summary>Frames batches as "begin", the messages, then "commit" (reply <see cref="ReplyKey"/>) or "abort".</summary>
        public bool Transactional { get; set; }

        public ReadOnlyMemory<byte> BeginBatch(ArrayBufferWriter<byte> scratch) => Transactional ? "begin"u8.ToArray() : default;

        public ReadOnlyMemory<byte> CommitBatch(ArrayBufferWriter<byte> scratch, out long replyKey)
        {
            replyKey = Transactional ? ReplyKey : 0;
            return Transactional ? "commit"u8.ToArray() : default;
        }

        public ReadOnlyMemory<byte> AbortBatch(ArrayBufferWriter<byte> scratch) => Transactional ? "abort"u8.ToArray() : default;

        public void OnTick(long timestamp)
        {
        }

        public void Complete(long token, FrameOutcome outcome)
        {
        }

        public void StopDelivering()
        {
        }

        public ValueTask GoodbyeAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
