using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Handlers;

/// <summary>A W3C trace from the producer through the gateway and the sink, and the sink's metrics, against a real RabbitMQ.</summary>
[Collection(nameof(Protocols.Stomp.SharedBroker))]
public sealed class SinkTelemetryTests
{
    [Fact]
    public async Task Bridge_MessageWithTraceparent_FrameSpanIsItsChildEndsAtTheConfirmAndTheContextTravelsOn()
    {
        await using var broker = await RabbitMqBroker.RequireAsync();
        var (a, b) = (await broker.DeclareQueueAsync("trace-a"), await broker.DeclareQueueAsync("trace-b"));
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GatewayTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == GatewayTelemetry.FrameActivityName && Equals(activity.GetTagItem("gateway.socket"), "q"))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Handlers:rabbitmq:RoutingKey", b)
            .Socket("q", RabbitMqBroker.WebStompUrl,
                ("Protocol", "Stomp"), ("Stomp:Login", RabbitMqBroker.Login), ("Stomp:Passcode", RabbitMqBroker.Passcode),
                ("Stomp:Subscriptions:0:Destination", $"/queue/{a}"), ("Handlers:0", "rabbitmq")));
        using var confirmed = gateway.CollectMetric<long>("gateway.sink.confirmed");
        using var up = gateway.CollectMetric<int>("gateway.sink.up");
        await Eventually.TrueAsync(() => gateway.Status("q").State == SocketState.Ready, "subscribed");

        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        await broker.PublishAsync(a, "traced", new Dictionary<string, object?> { ["traceparent"] = $"00-{traceId}-00f067aa0ba902b7-01" });

        await RabbitMqBroker.WaitForDepthAsync(a, ready: 0, unacked: 0, TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => spans.Any(s => s.TraceId.ToHexString() == traceId), "the frame's span ended");
        var span = spans.Single(s => s.TraceId.ToHexString() == traceId);
        Assert.Equal("00f067aa0ba902b7", span.ParentSpanId.ToHexString());
        Assert.Equal(("Handled", ActivityStatusCode.Ok), (span.GetTagItem(GatewayTelemetry.OutcomeTag), span.Status));
        var forwarded = Assert.Single(await broker.DrainAsync(b));
        Assert.Equal("traced", forwarded);

        confirmed.RecordObservableInstruments();
        up.RecordObservableInstruments();
        Assert.Equal(1, confirmed.LastMeasurement!.Value);
        Assert.Equal("rabbitmq", confirmed.LastMeasurement.Tags["gateway.sink"]);
        Assert.Equal(1, up.GetMeasurementSnapshot().Single(m => Equals(m.Tags["gateway.sink"], "rabbitmq")).Value);

        using var health = await gateway.Http.GetAsync("/health/ready", TestContext.Current.CancellationToken);
        var sinks = System.Text.Json.JsonDocument.Parse(await health.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("sinks");
        var sink = Assert.Single(sinks.EnumerateArray());
        Assert.Equal(("rabbitmq", "Up", true), (sink.GetProperty("name").GetString(), sink.GetProperty("state").GetString(), sink.GetProperty("inUse").GetBoolean()));
    }
}
