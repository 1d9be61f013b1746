using System.Diagnostics;

namespace Gateway.Host.Metrics;

/// <summary>
/// The gateway's traces: one <see cref="ActivitySource"/>, one span per connection attempt that
/// covers the HTTP upgrade and the handshake and ends with the attempt's outcome.
/// </summary>
internal static class GatewayTelemetry
{
    public const string ServiceName = "gateway";
    public const string ActivitySourceName = "Gateway";
    public const string ConnectActivityName = "gateway.connect";

    public const string OutcomeTag = "gateway.outcome";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName, typeof(GatewayTelemetry).Assembly.GetName().Version?.ToString());

    public const string FrameActivityName = "gateway.frame";

    /// <summary>
    /// Starts the span of one frame's handling (handlers, and a sink's confirmation when one took the
    /// frame over), the child of the W3C <c>traceparent</c> the frame carried (a STOMP header), else a
    /// trace of its own; <see langword="null"/> when tracing is off.
    /// </summary>
    public static Activity? StartFrame(string socket, in Frame frame)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var parent = frame.Headers.TryGetValue("traceparent", out var traceparent)
            && ActivityContext.TryParse(traceparent, frame.Headers["tracestate"], isRemote: true, out var context) ? context : default;
        var activity = ActivitySource.StartActivity(FrameActivityName, ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GatewayMetrics.SocketTag, socket);
            activity.SetTag("gateway.connection", frame.ConnectionNumber);
            activity.SetTag("gateway.seq", frame.Sequence);
        }

        return activity;
    }

    /// <summary>The frame ended: handled, failed in a handler or its sink, dropped or lost.</summary>
    public static void EndFrame(Activity? activity, Protocols.FrameOutcome outcome)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag(OutcomeTag, outcome.ToString());
        activity.SetStatus(outcome == Protocols.FrameOutcome.Handled ? ActivityStatusCode.Ok : ActivityStatusCode.Error);
        activity.Dispose();
    }

    /// <summary>Starts the span of one connection attempt, as a trace of its own; <see langword="null"/> when nobody listens.</summary>
    public static Activity? StartConnectAttempt(string socket, string protocol, Uri displayUrl, int attempt)
    {
        // A worker's attempts follow each other on one async flow: never make one the child of the last.
        Activity.Current = null;
        var activity = ActivitySource.StartActivity(ConnectActivityName, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GatewayMetrics.SocketTag, socket);
            activity.SetTag(GatewayMetrics.ProtocolTag, protocol);
            activity.SetTag("url.full", displayUrl.ToString());
            if (displayUrl.IsAbsoluteUri)
            {
                activity.SetTag("server.address", displayUrl.Host);
                activity.SetTag("server.port", displayUrl.Port);
            }

            activity.SetTag("gateway.attempt", attempt);
        }

        return activity;
    }

    /// <summary>The HTTP upgrade succeeded; the protocol handshake follows.</summary>
    public static void Upgraded(Activity? activity, long connection, string? subProtocol)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("gateway.connection", connection);
            activity.SetTag("gateway.subprotocol", subProtocol);
            activity.AddEvent(new ActivityEvent("upgraded"));
        }
    }

    /// <summary>The handshake is done and the socket is ready: the span ends successfully.</summary>
    public static void Ready(Activity? activity) => End(activity, "ready", ActivityStatusCode.Ok);

    /// <summary>The gateway was stopped before the attempt finished.</summary>
    public static void Stopped(Activity? activity) => End(activity, "stopped", ActivityStatusCode.Unset);

    /// <summary>The attempt failed, during the upgrade (with the HTTP status when the server refused it) or the handshake.</summary>
    public static void Failed(Activity? activity, Exception exception, string errorType, int? httpStatus)
    {
        if (activity is null || activity.IsStopped)
        {
            return;
        }

        activity.SetTag("error.type", errorType);
        if (httpStatus is { } status)
        {
            activity.SetTag("http.response.status_code", status);
        }

        activity.AddException(exception);
        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        End(activity, "failed", ActivityStatusCode.Error);
    }

    private static void End(Activity? activity, string outcome, ActivityStatusCode status)
    {
        if (activity is null || activity.IsStopped)
        {
            return;
        }

        activity.SetTag(OutcomeTag, outcome);
        if (status != ActivityStatusCode.Error)
        {
            activity.SetStatus(status);
        }

        // Stopping also clears Activity.Current on this flow: what follows (sends, the receive loop) is not part of the attempt.
        activity.Stop();
    }
}
