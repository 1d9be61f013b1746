using System.Diagnostics.Metrics;
using Gateway.Host.Health;

namespace Gateway.Host.Metrics;

/// <summary>The <c>Gateway</c> meter and its instruments (Kestrel's <c>KestrelMetrics</c> pattern).</summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "Gateway";
    public const string SocketTag = "gateway.socket";
    public const string HandlerTag = "gateway.handler";
    public const string ProtocolTag = "gateway.protocol";
    public const string ReasonTag = "gateway.reason";
    public const string ErrorTypeTag = "error.type";

    // From 10 µs to 10 s: handlers are usually fast, lag can grow under backpressure.
    private static readonly double[] s_secondsBuckets = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

    private readonly Counter<long> _framesDropped;
    private readonly Counter<long> _outboundRejected;
    private readonly Counter<long> _outboundDropped;
    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _connectionAttempts;
    private readonly Counter<long> _connectionFailures;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _handlerErrors;
    private readonly Histogram<double> _handlerDuration;
    private readonly Histogram<double> _frameLag;

    public const string SinkTag = "gateway.sink";

    public GatewayMetrics(IMeterFactory meterFactory, SocketHealthTracker tracker, IEnumerable<ISinkHealth>? sinks = null)
    {
        var meter = meterFactory.Create(MeterName);

        // Sinks (rabbitmq, redis-stream): up or not, frames awaiting confirmation, confirmed and failed.
        var sinkList = sinks?.ToArray() ?? [];
        if (sinkList.Length > 0)
        {
            meter.CreateObservableGauge("gateway.sink.up", () => sinkList.Select(s => new Measurement<int>(s.State == SinkState.Down ? 0 : 1, new KeyValuePair<string, object?>(SinkTag, s.Name))), "{sink}", "1 while the sink is connected or not yet needed, 0 while it is down.");
            meter.CreateObservableGauge("gateway.sink.in_flight", () => sinkList.Select(s => new Measurement<long>(s.InFlight, new KeyValuePair<string, object?>(SinkTag, s.Name))), "{frame}", "Frames handed to the sink and not yet confirmed or refused.");
            meter.CreateObservableCounter("gateway.sink.confirmed", () => sinkList.Select(s => new Measurement<long>(s.Confirmed, new KeyValuePair<string, object?>(SinkTag, s.Name))), "{frame}", "Frames the sink confirmed.");
            meter.CreateObservableCounter("gateway.sink.failed", () => sinkList.Select(s => new Measurement<long>(s.Failed, new KeyValuePair<string, object?>(SinkTag, s.Name))), "{frame}", "Frames the sink refused or gave up on.");
        }

        // Per-frame counts are kept by each socket's status (for health anyway) and observed at
        // collection time: the receive path pays no metric call per frame.
        ObservableCounter("gateway.frames.received", "{frame}", "Messages read from upstream sockets.", s => s.FramesReceived);
        ObservableCounter("gateway.frames.received.size", "By", "Payload bytes read from upstream sockets.", s => s.BytesReceived);
        ObservableCounter("gateway.frames.handled", "{frame}", "Messages that went through all their handlers.", s => s.FramesHandled);
        ObservableCounter("gateway.frames.sent", "{frame}", "Messages written to upstream sockets.", s => s.FramesSent);
        ObservableCounter("gateway.frames.sent.size", "By", "Payload bytes written to upstream sockets.", s => s.BytesSent);

        void ObservableCounter(string name, string unit, string description, Func<SocketStatus, long> read)
            => meter.CreateObservableCounter(name, () => tracker.Statuses().Select(s => new Measurement<long>(read(s), new KeyValuePair<string, object?>(SocketTag, s.Name))), unit, description);

        _framesDropped = meter.CreateCounter<long>("gateway.frames.dropped", "{frame}", "Messages received but never handled, by reason.");
        _outboundRejected = meter.CreateCounter<long>("gateway.outbound.rejected", "{message}", "Sends refused at once, by reason (other than unknown socket).");
        _outboundDropped = meter.CreateCounter<long>("gateway.outbound.dropped", "{message}", "Accepted sends dropped before being written, by reason.");
        meter.CreateObservableGauge("gateway.outbound.queue.depth", () => tracker.Statuses().Select(s => new Measurement<long>(s.OutboundDepth(), new KeyValuePair<string, object?>(SocketTag, s.Name))), "{message}", "Messages waiting to be written.");
        _activeConnections = meter.CreateUpDownCounter<long>("gateway.socket.active_connections", "{connection}", "Open upstream connections.");
        _connectionAttempts = meter.CreateCounter<long>("gateway.socket.connection_attempts", "{attempt}", "WebSocket connect attempts.");
        _connectionFailures = meter.CreateCounter<long>("gateway.socket.connection_failures", "{attempt}", "WebSocket connect attempts that failed.");
        _reconnects = meter.CreateCounter<long>("gateway.socket.reconnects", "{reconnect}", "Connections re-established after a disconnect.");
        _disconnects = meter.CreateCounter<long>("gateway.socket.disconnects", "{disconnect}", "Connections that ended, by reason.");
        _handlerErrors = meter.CreateCounter<long>("gateway.handler.errors", "{error}", "Exceptions thrown by frame handlers.");
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = s_secondsBuckets };
        _handlerDuration = meter.CreateHistogram("gateway.handler.duration", "s", "Time a handler took for one frame.", tags: null, advice: seconds);
        _frameLag = meter.CreateHistogram("gateway.frame.lag", "s", "Time from reading a frame to its last handler completing.", tags: null, advice: seconds);
        meter.CreateObservableGauge("gateway.queue.depth", () => tracker.Statuses().Select(s => new Measurement<long>(s.QueueDepth(), new KeyValuePair<string, object?>(SocketTag, s.Name))), "{frame}", "Frames waiting for handlers.");
    }

    public void FrameDropped(string socket, string reason, long count = 1)
        => _framesDropped.Add(count, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ReasonTag, reason));

    public void OutboundRejected(string socket, string reason)
        => _outboundRejected.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ReasonTag, reason));

    public void OutboundDropped(string socket, string reason, long count)
        => _outboundDropped.Add(count, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ReasonTag, reason));

    public void ConnectionOpened(string socket, string protocol, bool isReconnect)
    {
        _activeConnections.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ProtocolTag, protocol));
        if (isReconnect)
        {
            _reconnects.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ProtocolTag, protocol));
        }
    }

    /// <param name="reason">A <see cref="Sockets.Disconnects.Label"/>: one of a small fixed set.</param>
    public void ConnectionClosed(string socket, string protocol, string reason)
    {
        _activeConnections.Add(-1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ProtocolTag, protocol));
        _disconnects.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ProtocolTag, protocol), new KeyValuePair<string, object?>(ReasonTag, reason));
    }

    public void ConnectionAttempt(string socket, string protocol)
        => _connectionAttempts.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ProtocolTag, protocol));

    public void ConnectionFailed(string socket, string protocol, string errorType)
        => _connectionFailures.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(ProtocolTag, protocol), new KeyValuePair<string, object?>(ErrorTypeTag, errorType));

    public void HandlerFailed(string socket, string handler, Exception exception)
        => _handlerErrors.Add(1, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(HandlerTag, handler), new KeyValuePair<string, object?>(ErrorTypeTag, exception.GetType().FullName));

    public bool HandlerDurationEnabled => _handlerDuration.Enabled;

    public void HandlerCompleted(string socket, string handler, double seconds)
        => _handlerDuration.Record(seconds, new KeyValuePair<string, object?>(SocketTag, socket), new KeyValuePair<string, object?>(HandlerTag, handler));

    public bool FrameLagEnabled => _frameLag.Enabled;

    public void FrameCompleted(string socket, double seconds)
        => _frameLag.Record(seconds, new KeyValuePair<string, object?>(SocketTag, socket));
}
