using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Host.Metrics;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Metrics;

/// <summary>The span per connection attempt, over real sockets.</summary>
public sealed class GatewayTelemetryTests
{
    [Fact]
    public async Task StartConnectAttempt_RefusedThenAccepted_OneRootSpanPerAttemptWithItsOutcome()
    {
        var socket = "t" + Guid.NewGuid().ToString("N")[..8];
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(socket, spans);
        await using var server = await UpstreamServer.StartIdleAsync();
        server.RejectHandshake = _ => server.HandshakeHeaders.Count <= 1 ? 401 : null;
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket(socket, server.Url(), ("OnConnect:0:Text", "hello"), ("SubProtocols:0", "v1.feed")));

        await Eventually.TrueAsync(() => spans.Count >= 2, "two attempts ended");
        var (refused, accepted) = (spans.ElementAt(0), spans.ElementAt(1));

        Assert.Equal(GatewayTelemetry.ConnectActivityName, refused.OperationName);
        Assert.Equal(ActivityKind.Client, refused.Kind);
        Assert.Equal(ActivityStatusCode.Error, refused.Status);
        Assert.Equal("failed", refused.GetTagItem(GatewayTelemetry.OutcomeTag));
        Assert.Equal("http_401", refused.GetTagItem("error.type"));
        Assert.Equal(401, refused.GetTagItem("http.response.status_code"));
        Assert.Equal(0, refused.GetTagItem("gateway.attempt"));
        Assert.Equal("Raw", refused.GetTagItem("gateway.protocol"));
        Assert.Equal(server.Url().ToString(), refused.GetTagItem("url.full"));
        Assert.Equal(server.Port, refused.GetTagItem("server.port"));
        Assert.Contains(refused.Events, e => e.Name == "exception");
        Assert.DoesNotContain(refused.Events, e => e.Name == "upgraded");

        Assert.Equal(ActivityStatusCode.Ok, accepted.Status);
        Assert.Equal("ready", accepted.GetTagItem(GatewayTelemetry.OutcomeTag));
        Assert.Equal(1, accepted.GetTagItem("gateway.attempt"));
        Assert.Equal(1L, accepted.GetTagItem("gateway.connection"));
        Assert.Equal("v1.feed", accepted.GetTagItem("gateway.subprotocol"));
        Assert.Contains(accepted.Events, e => e.Name == "upgraded");

        // Each attempt is a trace of its own, not a child of the one before.
        Assert.Null(refused.Parent);
        Assert.Null(accepted.Parent);
        Assert.Equal(default, accepted.ParentSpanId);
        Assert.NotEqual(refused.TraceId, accepted.TraceId);

        // The span covered the handshake: OnConnect was written before it ended.
        await Eventually.TrueAsync(() => server.LastSession?.Received.Count == 1, "the OnConnect message arrived");
        Assert.True(accepted.Duration > TimeSpan.Zero);
    }

    [Fact]
    public async Task StartConnectAttempt_StoppedWhileConnecting_SpanEndsAsStopped()
    {
        var socket = "t" + Guid.NewGuid().ToString("N")[..8];
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(socket, spans);
        await using var server = await UpstreamServer.StartIdleAsync();
        var release = new TaskCompletionSource();
        server.RejectHandshake = _ =>
        {
            release.Task.Wait(TimeSpan.FromSeconds(10));
            return null;
        };
        var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket(socket, server.Url()));
        await Eventually.TrueAsync(() => server.HandshakeHeaders.Count == 1, "the upgrade request arrived");

        var stopping = gateway.DisposeAsync();
        await Eventually.TrueAsync(() => !spans.IsEmpty, "the attempt ended");
        release.SetResult();
        await stopping;

        var span = Assert.Single(spans);
        Assert.Equal("stopped", span.GetTagItem(GatewayTelemetry.OutcomeTag));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
    }

    private static ActivityListener Listen(string socket, ConcurrentQueue<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GatewayTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("gateway.socket"), socket))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
