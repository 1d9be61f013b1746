using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Gateway.Host.Endpoints;
using Gateway.Host.Health;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.StatusPage;

/// <summary>
/// The live feed behind <c>/events</c>: a <c>snapshot</c> event to each client that joins, then
/// <c>changes</c> events (rows whose state changed, names removed) as they happen, and one <c>rates</c>
/// event a second for all sockets together (frames/s in and out, queue depth, drops, handler errors;
/// sockets at rest are left out once a rates event showed them at rest).
/// </summary>
/// <remarks>
/// One pump task writes to every client, so each client sees its snapshot before any change after it.
/// Workers only mark a socket changed and wake the pump; a burst of transitions (an upstream restarting
/// with thousands of sockets) becomes one event. Each client has a bounded queue; a client whose queue
/// is full is dropped (counted, logged) and its <c>EventSource</c> reconnects to a fresh snapshot.
/// </remarks>
internal sealed partial class StatusEventStream : IDisposable
{
    /// <summary>Events a client may have queued before it is dropped: about a minute of rates.</summary>
    public const int DefaultClientCapacity = 64;

    /// <summary>Browsers (<c>/events</c> connections) served at once; one more is answered 503 with <c>Retry-After</c>.</summary>
    public const int DefaultMaxClients = 32;

    public static readonly TimeSpan RateInterval = TimeSpan.FromSeconds(1);

    private static readonly byte[] s_snapshotPrefix = Encoding.UTF8.GetBytes("event: snapshot\ndata: ");
    private static readonly byte[] s_changesPrefix = Encoding.UTF8.GetBytes("event: changes\ndata: ");
    private static readonly byte[] s_ratesPrefix = Encoding.UTF8.GetBytes("event: rates\ndata: ");
    private static readonly byte[] s_end = "\n\n"u8.ToArray();

    private readonly SocketHealthTracker _tracker;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _clientCapacity;
    private readonly int _maxClients;
    private readonly Lock _lock = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _timer;
    private readonly Task _pump;

    // Under _lock: names changed or removed since the last flush, and clients waiting for their snapshot.
    private HashSet<string> _changed = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<StatusEventClient> _joining = [];

    // The pump's own.
    private readonly List<StatusEventClient> _clients = [];
    private readonly Dictionary<SocketStatus, RateSample> _samples = new(ReferenceEqualityComparer.Instance);
    private long _sweep;

    private int _clientCount;
    private int _tickDue;
    private long _slowClientsDropped;

    public StatusEventStream(SocketHealthTracker tracker, TimeProvider time, ILogger<StatusEventStream> logger)
        : this(tracker, time, logger, DefaultClientCapacity)
    {
    }

    internal StatusEventStream(SocketHealthTracker tracker, TimeProvider time, ILogger<StatusEventStream> logger, int clientCapacity, int maxClients = DefaultMaxClients)
    {
        _maxClients = maxClients;
        _tracker = tracker;
        _time = time;
        _logger = logger;
        _clientCapacity = clientCapacity;
        _tracker.Changed += OnChanged;
        _tracker.Removed += OnChanged;
        _timer = time.CreateTimer(static state => ((StatusEventStream)state!).OnTick(), this, RateInterval, RateInterval);
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Clients dropped for not reading their events in time.</summary>
    public long SlowClientsDropped => Interlocked.Read(ref _slowClientsDropped);

    /// <summary>Connected clients, including those still waiting for their snapshot.</summary>
    public int ClientCount => Volatile.Read(ref _clientCount);

    /// <summary>
    /// A new client, or null when <c>DefaultMaxClients</c> are connected already (each holds a
    /// connection and a queue: their number is bounded too). Its first event is the snapshot;
    /// dispose it when the connection ends.
    /// </summary>
    public StatusEventClient? TryConnect()
    {
        // Counted before the snapshot is taken, so no change between the two is missed (one may come twice).
        if (Interlocked.Increment(ref _clientCount) > _maxClients)
        {
            Interlocked.Decrement(ref _clientCount);
            return null;
        }

        var client = new StatusEventClient(_clientCapacity, Leave);
        lock (_lock)
        {
            _joining.Add(client);
        }

        _wake.Writer.TryWrite(true);
        return client;
    }

    private void Leave(StatusEventClient client)
    {
        Interlocked.Decrement(ref _clientCount);
        _wake.Writer.TryWrite(true);
    }

    private void OnChanged(SocketStatus status)
    {
        if (Volatile.Read(ref _clientCount) == 0)
        {
            return;
        }

        lock (_lock)
        {
            _changed.Add(status.Name);
        }

        _wake.Writer.TryWrite(true);
    }

    private void OnTick()
    {
        if (Volatile.Read(ref _clientCount) > 0)
        {
            Volatile.Write(ref _tickDue, 1);
            _wake.Writer.TryWrite(true);
        }
    }

    private async Task PumpAsync()
    {
        var reader = _wake.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                reader.TryRead(out _);
                try
                {
                    Pump();
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A bug must not end the feed for everyone: log it and go on with the next wake-up.
                    Log.PumpFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private void Pump()
    {
        _clients.RemoveAll(static c => c.IsClosed);
        HashSet<string> changed;
        StatusEventClient[] joining;
        lock (_lock)
        {
            changed = _changed;
            _changed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            joining = [.. _joining];
            _joining.Clear();
        }

        // Changes first: a joining client's snapshot is taken after, and already has them.
        if (changed.Count > 0 && _clients.Count > 0)
        {
            Broadcast(EncodeChanges(changed));
        }

        if (joining.Length > 0)
        {
            if (_clients.Count == 0)
            {
                // Rates count from now, not from the last time someone watched.
                _samples.Clear();
                TakeSamples(rates: null);
            }

            var snapshot = EncodeSnapshot();
            foreach (var client in joining)
            {
                if (!client.IsClosed && client.TryWrite(snapshot))
                {
                    _clients.Add(client);
                }
            }
        }

        if (Interlocked.Exchange(ref _tickDue, 0) == 1 && _clients.Count > 0)
        {
            var rates = new List<SocketRate>(_samples.Count);
            var resend = TakeSamples(rates);
            if (resend.Count > 0)
            {
                Broadcast(EncodeChanges(resend));
            }

            Broadcast(EncodeRates(rates));
        }
        else if (_clients.Count == 0)
        {
            _samples.Clear();
        }
    }

    /// <summary>
    /// Samples every socket's counters: the rates since the last sample (when <paramref name="rates"/> is given),
    /// and the names whose subscriptions changed state (they change without a socket transition).
    /// </summary>
    /// <remarks>
    /// A socket at rest (nothing counted since the last sample, which already said so) is left out of
    /// the rates event: the page keeps showing its last values, and 10k idle sockets cost nothing.
    /// </remarks>
    private HashSet<string> TakeSamples(List<SocketRate>? rates)
    {
        var now = _time.GetTimestamp();
        var sweep = ++_sweep;
        var resend = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var status in _tracker.Statuses())
        {
            var (subscriptions, messages) = SubscriptionState(status);
            var counters = new Counters(status.FramesReceived, status.FramesHandled, status.FramesSent, status.QueueDepth(), status.FramesDropped, status.HandlerErrors, messages);
            var atRest = false;
            if (_samples.TryGetValue(status, out var previous))
            {
                atRest = counters == previous.Counters;
                if (rates is not null && !(atRest && previous.AtRest))
                {
                    var seconds = _time.GetElapsedTime(previous.Timestamp, now).TotalSeconds;
                    var rateIn = seconds > 0 ? (counters.Received - previous.Counters.Received) / seconds : 0;
                    var rateOut = seconds > 0 ? (counters.Sent - previous.Counters.Sent) / seconds : 0;
                    rates.Add(new SocketRate(status, counters, rateIn, rateOut));
                }

                if (previous.Subscriptions != subscriptions)
                {
                    resend.Add(status.Name);
                }
            }
            else
            {
                rates?.Add(new SocketRate(status, counters, 0, 0));
            }

            // Only a sample that was sent can be at rest: the first one after a client joined always goes out.
            _samples[status] = new RateSample(now, counters, subscriptions, sweep, atRest && rates is not null);
        }

        // Forget removed sockets.
        foreach (var (status, sample) in _samples)
        {
            if (sample.Sweep != sweep)
            {
                _samples.Remove(status);
            }
        }

        return resend;
    }

    /// <summary>
    /// What of a socket's subscriptions changes without a transition (state, error, next attempt, renewals),
    /// and their messages in all.
    /// </summary>
    private static (string? State, long Messages) SubscriptionState(SocketStatus status)
    {
        var subscriptions = status.Subscriptions;
        if (subscriptions.Count == 0)
        {
            return (null, 0);
        }

        var builder = new StringBuilder();
        long messages = 0;
        foreach (var subscription in subscriptions)
        {
            var s = subscription.Snapshot();
            messages += s.MessagesReceived;
            builder.Append(s.State).Append('\u001f').Append(s.LastError).Append('\u001f').Append(s.NextAttemptAt?.UtcTicks).Append('\u001f').Append(s.Resubscribes).Append('\u001e');
        }

        return (builder.ToString(), messages);
    }

    private void Broadcast(byte[] message)
    {
        foreach (var client in _clients)
        {
            if (!client.TryWrite(message) && !client.IsClosed)
            {
                client.Close(slow: true);
                Interlocked.Increment(ref _slowClientsDropped);
                Log.SlowClientDropped(_logger, _clientCapacity);
            }
        }

        _clients.RemoveAll(static c => c.IsClosed);
    }

    private byte[] EncodeSnapshot()
        => Encode(s_snapshotPrefix, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("at", _time.GetUtcNow());
            writer.WritePropertyName("sockets");
            JsonSerializer.Serialize(writer, _tracker.Snapshot(), SocketApiEndpoints.JsonOptions);
            writer.WriteEndObject();
        });

    private byte[] EncodeChanges(HashSet<string> names)
        => Encode(s_changesPrefix, writer =>
        {
            var removed = new List<string>();
            writer.WriteStartObject();
            writer.WriteString("at", _time.GetUtcNow());
            writer.WriteStartArray("sockets");
            foreach (var name in names.Order(StringComparer.Ordinal))
            {
                if (_tracker.TryGet(name, out var status))
                {
                    JsonSerializer.Serialize(writer, status.Snapshot(), SocketApiEndpoints.JsonOptions);
                }
                else
                {
                    removed.Add(name);
                }
            }

            writer.WriteEndArray();
            writer.WriteStartArray("removed");
            foreach (var name in removed)
            {
                writer.WriteStringValue(name);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });

    /// <summary>One object per socket with short keys, since there may be 10k of them every second.</summary>
    private byte[] EncodeRates(List<SocketRate> rates)
        => Encode(s_ratesPrefix, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("at", _time.GetUtcNow());
            writer.WriteStartArray("sockets");
            foreach (var (status, counters, rateIn, rateOut) in rates)
            {
                writer.WriteStartObject();
                writer.WriteString("n", status.Name);
                writer.WriteNumber("i", Math.Round(rateIn, 1));
                writer.WriteNumber("o", Math.Round(rateOut, 1));
                writer.WriteNumber("q", counters.Queue);
                writer.WriteNumber("d", counters.Dropped);
                writer.WriteNumber("e", counters.Errors);
                writer.WriteNumber("r", counters.Received);
                writer.WriteNumber("h", counters.Handled);
                writer.WriteNumber("s", counters.Sent);
                if (status.Subscriptions.Count > 0)
                {
                    // Per subscription, in order: messages received and when the last arrived (Unix ms, 0 if none).
                    writer.WriteStartArray("m");
                    foreach (var subscription in status.Subscriptions)
                    {
                        var s = subscription.Snapshot();
                        writer.WriteStartArray();
                        writer.WriteNumberValue(s.MessagesReceived);
                        writer.WriteNumberValue(s.LastMessageAt?.ToUnixTimeMilliseconds() ?? 0);
                        writer.WriteEndArray();
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });

    /// <summary>A complete event: the prefix, one line of JSON (the writer never writes a newline unindented), a blank line.</summary>
    private static byte[] Encode(byte[] prefix, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        buffer.Write(prefix);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = SocketApiEndpoints.JsonOptions.Encoder }))
        {
            write(writer);
        }

        buffer.Write(s_end);
        return buffer.WrittenSpan.ToArray();
    }

    public void Dispose()
    {
        _tracker.Changed -= OnChanged;
        _tracker.Removed -= OnChanged;
        _timer.Dispose();
        _stopping.Cancel();
        _wake.Writer.TryComplete();
        lock (_lock)
        {
            foreach (var client in _joining)
            {
                client.Close(slow: false);
            }
        }

        // The pump has stopped or stops at its next await; closing from here races only with its last pass, which is harmless.
        _pump.Wait(TimeSpan.FromSeconds(1));
        foreach (var client in _clients.ToArray())
        {
            client.Close(slow: false);
        }

        _stopping.Dispose();
    }

    private readonly record struct Counters(long Received, long Handled, long Sent, int Queue, long Dropped, long Errors, long SubscriptionMessages);

    /// <param name="AtRest">Nothing was counted in the interval before it, and a rates event said so.</param>
    private readonly record struct RateSample(long Timestamp, Counters Counters, string? Subscriptions, long Sweep, bool AtRest);

    private readonly record struct SocketRate(SocketStatus Status, Counters Counters, double In, double Out);
}
