using System.Buffers;
using System.Diagnostics;
using System.Net.Http;
using System.Net.WebSockets;
using System.Threading.Channels;

namespace Gateway.Benchmarks;

/// <summary>What the raw client does per message; the extra modes rebuild the gateway's receive path step by step (<c>--breakdown</c>).</summary>
internal enum RawMode
{
    /// <summary>ReceiveAsync into one reused buffer until EndOfMessage.</summary>
    Plain,

    /// <summary>As the gateway reads: a zero-byte ReceiveAsync to park, then the payload into a pooled buffer.</summary>
    Park,

    /// <summary><see cref="Park"/>, then the buffer through a bounded channel to a consumer task, as the dispatcher does.</summary>
    ParkChannel,

    /// <summary><see cref="ParkChannel"/> with <c>AllowSynchronousContinuations = true</c>: the consumer runs on the writer's thread when it was waiting.</summary>
    ParkChannelSync,
}

/// <summary>One measured configuration: all windows of one mode, socket count and payload size.</summary>
internal sealed record ThroughputResult(
    string Mode,
    int Sockets,
    int PayloadSize,
    long FramesPerWindow,
    IReadOnlyList<double> FramesPerSecond,
    double AllocatedBytesPerFrame,
    int Gen0Collections,
    int Gen2Collections,
    string? Failure,
    IReadOnlyList<double> AllocatedBytesPerFrameByWindow,
    string? AllocationTypes = null)
{
    /// <summary>The median window, so one disturbed window on a 2-core machine does not decide the result.</summary>
    public double MedianFramesPerSecond
    {
        get
        {
            if (FramesPerSecond.Count == 0)
            {
                return 0;
            }

            var sorted = FramesPerSecond.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }

    public double MegabytesPerSecond => MedianFramesPerSecond * PayloadSize / 1e6;
}

/// <summary>
/// Receive throughput against the in-process <see cref="BenchServer"/>: (a) plain
/// <see cref="ClientWebSocket"/> read loops, (b) the gateway host (receive loop, channel, dispatcher,
/// handler). Both count every message with the same <see cref="FrameCounter"/>. All contenders of a
/// configuration are connected at once and their measured windows interleave (raw, gateway, raw,
/// gateway, ...), so drift on a shared 2-core machine hits them alike.
/// </summary>
internal sealed class ThroughputBenchmark(BenchServer server, bool binary, int windows, TimeSpan windowTimeout) : IDisposable
{
    private static readonly ArrayPool<byte> s_pool = ArrayPool<byte>.Create(4 * 1024 * 1024, 4096);

    private readonly Dictionary<int, FrameChunk> _chunks = [];
    private readonly HttpMessageInvoker _invoker = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false });

    public static string Name(RawMode? mode) => mode switch
    {
        null => "gateway",
        RawMode.Park => "raw+park",
        RawMode.ParkChannel => "raw+park+channel",
        RawMode.ParkChannelSync => "raw+park+channel(sync)",
        _ => "raw",
    };

    /// <summary>Measures each contender (a raw mode, or null for the gateway) over the same configuration.</summary>
    public async Task<List<ThroughputResult>> RunAsync(IReadOnlyList<RawMode?> modes, int sockets, int payloadSize, long warmupFrames, long framesPerWindow)
    {
        var contenders = new List<Contender>();
        try
        {
            foreach (var mode in modes)
            {
                var contender = new Contender(Name(mode), sockets, payloadSize, CreateSession(sockets, payloadSize, warmupFrames, framesPerWindow));
                contenders.Add(contender);
                if (mode is { } raw)
                {
                    await StartRawAsync(contender, raw).ConfigureAwait(false);
                }
                else
                {
                    await StartGatewayAsync(contender).ConfigureAwait(false);
                }
            }

            foreach (var contender in contenders)
            {
                await WarmUpAsync(contender).ConfigureAwait(false);
            }

            for (var window = 1; window <= windows; window++)
            {
                // Rotate who goes first, so no contender always follows the same one.
                for (var i = 0; i < contenders.Count; i++)
                {
                    var contender = contenders[(i + window - 1) % contenders.Count];
                    if (contender.Failure is null)
                    {
                        await MeasureWindowAsync(contender, window).ConfigureAwait(false);
                    }
                }
            }

            return [.. contenders.Select(c => c.ToResult())];
        }
        finally
        {
            foreach (var contender in contenders)
            {
                await contender.DisposeAsync().ConfigureAwait(false);
                server.RemoveSession(contender.Session);
            }
        }
    }

    public void Dispose() => _invoker.Dispose();

    private async Task StartRawAsync(Contender contender, RawMode mode)
    {
        var stop = new CancellationTokenSource(windowTimeout * (windows + 3));
        var clients = new ClientWebSocket[contender.Sockets];
        for (var i = 0; i < clients.Length; i++)
        {
            clients[i] = new ClientWebSocket();

            // As the gateway configures its sockets (SocketOptions defaults).
            clients[i].Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
            clients[i].Options.KeepAliveTimeout = TimeSpan.FromSeconds(10);
        }

        Task[] readers = [];
        contender.OnDispose = async () =>
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(clients.Select(CloseAsync)).ConfigureAwait(false);
            await Task.WhenAll(readers).WaitAsync(windowTimeout).ConfigureAwait(false);
            stop.Dispose();
        };

        var url = server.FloodUrl(contender.Session);
        await Task.WhenAll(clients.Select(c => c.ConnectAsync(url, _invoker, stop.Token))).ConfigureAwait(false);
        await WaitForServerConnectionsAsync(contender.Session, contender.Sockets).ConfigureAwait(false);
        var total = contender.Session.FramesPerConnection.Sum();
        var counter = contender.Counter;
        readers = [.. clients.Select(c => mode switch
        {
            RawMode.Park => ReadParkedAsync(c, total, counter, null, stop.Token),
            RawMode.ParkChannel => ReadParkedThroughChannelAsync(c, total, counter, synchronousContinuations: false, stop.Token),
            RawMode.ParkChannelSync => ReadParkedThroughChannelAsync(c, total, counter, synchronousContinuations: true, stop.Token),
            _ => ReadAsync(c, total, counter, stop.Token),
        })];
    }

    private async Task StartGatewayAsync(Contender contender)
    {
        var host = await GatewayHost.StartAsync(GatewayHost.Configuration(server.FloodUrl(contender.Session), contender.Sockets)).ConfigureAwait(false);
        contender.Counter = host.Counter;
        contender.OnDispose = async () =>
        {
            var logs = host.Logs.TakeSummary();
            if (logs.Length > 0 && Program.Verbose)
            {
                Console.WriteLine("    gateway log:" + logs);
            }

            await host.DisposeAsync().ConfigureAwait(false);
        };
        await host.Counter.WaitForConnectedAsync(contender.Sockets, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await WaitForServerConnectionsAsync(contender.Session, contender.Sockets).ConfigureAwait(false);
    }

    private FloodSession CreateSession(int sockets, int payloadSize, long warmupFrames, long framesPerWindow)
    {
        if (!_chunks.TryGetValue(payloadSize, out var chunk))
        {
            chunk = new FrameChunk(payloadSize, binary);
            _chunks[payloadSize] = chunk;
        }

        // Phase 0 warms up (JIT tiers, pools, queues, TCP windows); phases 1..windows are measured.
        var perConnection = new long[windows + 1];
        perConnection[0] = Math.Max(1, warmupFrames / sockets);
        for (var i = 1; i <= windows; i++)
        {
            perConnection[i] = Math.Max(1, framesPerWindow / sockets);
        }

        return server.CreateSession(chunk, perConnection);
    }

    private async Task WarmUpAsync(Contender contender)
    {
        var warmup = contender.Counter.Arm(contender.Session.FramesPerConnection[0] * contender.Sockets);
        contender.Session.Go(0);
        try
        {
            await warmup.WaitAsync(windowTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            contender.Failure = $"warm-up timed out after {contender.Counter.Count} frames";
        }
    }

    private async Task MeasureWindowAsync(Contender contender, int window)
    {
        var counter = contender.Counter;
        var windowFrames = contender.Session.FramesPerConnection[window] * contender.Sockets;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var startCount = counter.Count;
        var reached = counter.Arm(windowFrames).WaitAsync(windowTimeout);
        var sampler = AllocationSampler.Current;
        sampler?.Start();
        var gen0Before = GC.CollectionCount(0);
        var gen2Before = GC.CollectionCount(2);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var start = Stopwatch.GetTimestamp();
        contender.Session.Go(window);
        try
        {
            await reached.ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            contender.Failure = $"window {window} timed out after {counter.Count - startCount} of {windowFrames} frames";
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        contender.AddWindow(counter.Count - startCount, elapsed, allocated, GC.CollectionCount(0) - gen0Before, GC.CollectionCount(2) - gen2Before, sampler?.Stop());
        contender.FramesPerWindow = windowFrames;
    }

    private async Task WaitForServerConnectionsAsync(FloodSession session, int sockets)
    {
        var deadline = DateTime.UtcNow + windowTimeout;
        while (session.Connected < sockets)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the server saw {session.Connected} of {sockets} connections");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <summary>One client set (raw or gateway) with its own flood session and counter.</summary>
    private sealed class Contender(string name, int sockets, int payloadSize, FloodSession session) : IAsyncDisposable
    {
        private readonly List<double> _rates = [];
        private readonly List<double> _bytesPerFrame = [];
        private readonly Dictionary<string, long> _allocationTypes = [];
        private long _frames;
        private long _allocated;
        private int _gen0;
        private int _gen2;

        public string Name { get; } = name;

        public int Sockets { get; } = sockets;

        public FloodSession Session { get; } = session;

        public FrameCounter Counter { get; set; } = new();

        public long FramesPerWindow { get; set; }

        public string? Failure { get; set; }

        public Func<Task>? OnDispose { get; set; }

        public void AddWindow(long frames, TimeSpan elapsed, long allocated, int gen0, int gen2, Dictionary<string, long>? types)
        {
            _rates.Add(frames / elapsed.TotalSeconds);
            _bytesPerFrame.Add(frames == 0 ? double.NaN : (double)allocated / frames);
            _frames += frames;
            _allocated += allocated;
            _gen0 += gen0;
            _gen2 += gen2;
            foreach (var (type, bytes) in types ?? [])
            {
                _allocationTypes[type] = _allocationTypes.GetValueOrDefault(type) + bytes;
            }
        }

        public ThroughputResult ToResult() => new(
            Name,
            Sockets,
            payloadSize,
            FramesPerWindow,
            _rates,
            _frames == 0 ? double.NaN : (double)_allocated / _frames,
            _gen0,
            _gen2,
            Failure,
            _bytesPerFrame,
            AllocationSampler.Current is null ? null : AllocationSampler.Describe(_allocationTypes, 6));

        public async ValueTask DisposeAsync()
        {
            if (OnDispose is { } dispose)
            {
                OnDispose = null;
                try
                {
                    await dispose().ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // A reader that did not end is abandoned with its socket.
                }
            }
        }
    }

    /// <summary>The raw baseline: one reused buffer, read until EndOfMessage, count the message.</summary>
    private static async Task ReadAsync(ClientWebSocket socket, long messages, FrameCounter counter, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            for (long i = 0; i < messages; i++)
            {
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(), token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                }
                while (!result.EndOfMessage);
                counter.Add();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // Timed out: MeasureAsync reports it.
        }
    }

    /// <summary>Reads like the gateway: park with an empty buffer, then read the message into a pooled buffer.</summary>
    private static async Task ReadParkedAsync(ClientWebSocket socket, long messages, FrameCounter counter, ChannelWriter<(byte[] Buffer, int Count)>? channel, CancellationToken token)
    {
        var sizeHint = 256;
        try
        {
            for (long i = 0; i < messages; i++)
            {
                var result = await socket.ReceiveAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                var buffer = s_pool.Rent(result.EndOfMessage ? 1 : sizeHint);
                var count = 0;
                while (!result.EndOfMessage)
                {
                    if (count == buffer.Length)
                    {
                        var larger = s_pool.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, count).CopyTo(larger);
                        s_pool.Return(buffer);
                        buffer = larger;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(count), token).ConfigureAwait(false);
                    count += result.Count;
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                }

                sizeHint = Math.Max(count, 256);
                if (channel is null)
                {
                    counter.Add();
                    s_pool.Return(buffer);
                }
                else if (!channel.TryWrite((buffer, count)))
                {
                    await channel.WriteAsync((buffer, count), token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ChannelClosedException)
        {
            // Timed out: MeasureAsync reports it.
        }
        finally
        {
            channel?.TryComplete();
        }
    }

    /// <summary><see cref="ReadParkedAsync"/> feeding a bounded channel (capacity 1024, Wait) drained by a consumer task, as in FrameDispatcher.</summary>
    private static async Task ReadParkedThroughChannelAsync(ClientWebSocket socket, long messages, FrameCounter counter, bool synchronousContinuations, CancellationToken token)
    {
        var channel = Channel.CreateBounded<(byte[] Buffer, int Count)>(new BoundedChannelOptions(1024)
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = synchronousContinuations,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var consumer = Task.Run(async () =>
        {
            var reader = channel.Reader;
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    counter.Add();
                    s_pool.Return(item.Buffer);
                }
            }
        }, CancellationToken.None);
        await ReadParkedAsync(socket, messages, counter, channel.Writer, token).ConfigureAwait(false);
        await consumer.ConfigureAwait(false);
    }

    private static async Task CloseAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
            socket.Abort();
        }
        finally
        {
            socket.Dispose();
        }
    }
}
