using System.Buffers;
using System.Diagnostics;
using System.Net.Http;
using System.Net.WebSockets;
using System.Threading.Channels;

namespace Gateway.Benchmarks;

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
    string? AllocationTypes = null,
    double CpuSecondsPerFrame = double.NaN,
    double CpuBusy = double.NaN)
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
/// Receive throughput against a flood server (in this process, or in a pinned child process): plain
/// <see cref="ClientWebSocket"/> read loops, Websocket.Client, and the gateway host (receive loop,
/// channel, dispatcher, handler). All count every message with the same kind of
/// <see cref="FrameCounter"/>. All contenders of a configuration are connected at once and their
/// measured windows interleave (raw, Websocket.Client, gateway, raw, ...), so drift on a shared
/// 2-core machine hits them alike.
/// </summary>
internal sealed class ThroughputBenchmark(IFloodServer server, bool binary, int windows, TimeSpan windowTimeout) : IDisposable
{
    private static readonly ArrayPool<byte> s_pool = ArrayPool<byte>.Create(4 * 1024 * 1024, 4096);

    private readonly HttpMessageInvoker _invoker = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false });

    public static string Name(ClientKind kind) => kind switch
    {
        ClientKind.Gateway => "gateway",
        ClientKind.WebsocketClient => "Websocket.Client",
        ClientKind.RawPark => "raw+park",
        ClientKind.RawParkChannel => "raw+park+channel",
        ClientKind.RawParkChannelSync => "raw+park+channel(sync)",
        _ => "raw",
    };

    /// <summary>Measures each contender over the same configuration.</summary>
    public async Task<List<ThroughputResult>> RunAsync(IReadOnlyList<ClientKind> kinds, int sockets, int payloadSize, long warmupFrames, long framesPerWindow)
    {
        var contenders = new List<Contender>();
        try
        {
            foreach (var kind in kinds)
            {
                var contender = new Contender(Name(kind), sockets, payloadSize, await CreateSessionAsync(sockets, payloadSize, warmupFrames, framesPerWindow).ConfigureAwait(false));
                contenders.Add(contender);
                switch (kind)
                {
                    case ClientKind.Gateway:
                        await StartGatewayAsync(contender).ConfigureAwait(false);
                        break;
                    case ClientKind.WebsocketClient:
                        await StartWebsocketClientAsync(contender).ConfigureAwait(false);
                        break;
                    default:
                        await StartRawAsync(contender, kind).ConfigureAwait(false);
                        break;
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
                await server.RemoveSessionAsync(contender.Session).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => _invoker.Dispose();

    private async Task StartRawAsync(Contender contender, ClientKind kind)
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

        var url = contender.Session.Url;
        await Task.WhenAll(clients.Select(c => c.ConnectAsync(url, _invoker, stop.Token))).ConfigureAwait(false);
        await WaitForServerConnectionsAsync(contender.Session, contender.Sockets).ConfigureAwait(false);
        var total = contender.Session.FramesPerConnection.Sum();
        var counter = contender.Counter;
        readers = [.. clients.Select(c => kind switch
        {
            ClientKind.RawPark => ReadParkedAsync(c, total, counter, null, stop.Token),
            ClientKind.RawParkChannel => ReadParkedThroughChannelAsync(c, total, counter, synchronousContinuations: false, stop.Token),
            ClientKind.RawParkChannelSync => ReadParkedThroughChannelAsync(c, total, counter, synchronousContinuations: true, stop.Token),
            _ => ReadAsync(c, total, counter, stop.Token),
        })];
    }

    /// <summary>
    /// Websocket.Client as a user sets it up: reconnection on, no <c>ReconnectTimeout</c> (a quiet
    /// socket is not a dead one), the sockets' keep-alive as the others' through its ClientWebSocket
    /// factory, and the subscriber counts. Text messages arrive as <c>ResponseMessage.Text</c> (its
    /// default <c>IsTextMessageConversionEnabled = true</c>): that decoding is part of what it costs.
    /// </summary>
    private async Task StartWebsocketClientAsync(Contender contender)
    {
        var counter = contender.Counter;
        var clients = new Websocket.Client.WebsocketClient[contender.Sockets];
        var subscriptions = new IDisposable[contender.Sockets];
        for (var i = 0; i < clients.Length; i++)
        {
            clients[i] = new Websocket.Client.WebsocketClient(contender.Session.Url, static () => new ClientWebSocket
            {
                Options =
                {
                    KeepAliveInterval = TimeSpan.FromSeconds(30),
                    KeepAliveTimeout = TimeSpan.FromSeconds(10),
                },
            })
            {
                IsReconnectionEnabled = true,
                ReconnectTimeout = null,
            };
            subscriptions[i] = clients[i].MessageReceived.Subscribe(_ => counter.Add());
        }

        // A reconnect would replay the flood on a new connection: report it instead of measuring it.
        var disconnects = clients.Select(c => c.DisconnectionHappened.Subscribe(info => contender.Failure ??= $"disconnected ({info.Type})")).ToArray();

        contender.OnDispose = async () =>
        {
            foreach (var subscription in subscriptions.Concat(disconnects))
            {
                subscription.Dispose();
            }

            try
            {
                await Task.WhenAll(clients.Select(c => c.Stop(WebSocketCloseStatus.NormalClosure, string.Empty))).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            finally
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
            }
        };

        await Task.WhenAll(clients.Select(c => c.StartOrFail())).WaitAsync(windowTimeout).ConfigureAwait(false);
        await WaitForServerConnectionsAsync(contender.Session, contender.Sockets).ConfigureAwait(false);
    }

    private async Task StartGatewayAsync(Contender contender)
    {
        var host = await GatewayHost.StartAsync(GatewayHost.Configuration(contender.Session.Url, contender.Sockets)).ConfigureAwait(false);
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

    private Task<FloodHandle> CreateSessionAsync(int sockets, int payloadSize, long warmupFrames, long framesPerWindow)
    {
        // Phase 0 warms up (JIT tiers, pools, queues, TCP windows); phases 1..windows are measured.
        var perConnection = new long[windows + 1];
        perConnection[0] = Math.Max(1, warmupFrames / sockets);
        for (var i = 1; i <= windows; i++)
        {
            perConnection[i] = Math.Max(1, framesPerWindow / sockets);
        }

        return server.CreateSessionAsync(payloadSize, binary, perConnection);
    }

    private async Task WarmUpAsync(Contender contender)
    {
        var warmup = contender.Counter.Arm(contender.Session.FramesPerConnection[0] * contender.Sockets);
        server.Go(contender.Session, 0);
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
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var start = Stopwatch.GetTimestamp();
        server.Go(contender.Session, window);
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
        var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        contender.AddWindow(counter.Count - startCount, elapsed, cpu, allocated, GC.CollectionCount(0) - gen0Before, GC.CollectionCount(2) - gen2Before, sampler?.Stop());
        contender.FramesPerWindow = windowFrames;
    }

    private async Task WaitForServerConnectionsAsync(FloodHandle session, int sockets)
    {
        var deadline = DateTime.UtcNow + windowTimeout;
        int connected;
        while ((connected = await server.ConnectedAsync(session).ConfigureAwait(false)) < sockets)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the server saw {connected} of {sockets} connections");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <summary>One client set (raw, Websocket.Client or gateway) with its own flood session and counter.</summary>
    private sealed class Contender(string name, int sockets, int payloadSize, FloodHandle session) : IAsyncDisposable
    {
        private readonly List<double> _rates = [];
        private readonly List<double> _bytesPerFrame = [];
        private readonly Dictionary<string, long> _allocationTypes = [];
        private long _frames;
        private long _allocated;
        private TimeSpan _cpu;
        private TimeSpan _elapsed;
        private int _gen0;
        private int _gen2;

        public string Name { get; } = name;

        public int Sockets { get; } = sockets;

        public FloodHandle Session { get; } = session;

        public FrameCounter Counter { get; set; } = new();

        public long FramesPerWindow { get; set; }

        public string? Failure { get; set; }

        public Func<Task>? OnDispose { get; set; }

        public void AddWindow(long frames, TimeSpan elapsed, TimeSpan cpu, long allocated, int gen0, int gen2, Dictionary<string, long>? types)
        {
            _rates.Add(frames / elapsed.TotalSeconds);
            _bytesPerFrame.Add(frames == 0 ? double.NaN : (double)allocated / frames);
            _frames += frames;
            _allocated += allocated;
            _cpu += cpu;
            _elapsed += elapsed;
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
            AllocationSampler.Current is null ? null : AllocationSampler.Describe(_allocationTypes, 6),
            _frames == 0 ? double.NaN : _cpu.TotalSeconds / _frames,
            _elapsed <= TimeSpan.Zero ? double.NaN : _cpu / _elapsed / Environment.ProcessorCount);

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
