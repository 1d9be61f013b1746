using System.Globalization;
using System.Net.WebSockets;
using System.Text.RegularExpressions;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Metrics;

/// <summary>/metrics over HTTP follows real traffic.</summary>
public sealed partial class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_FramesFlowAndReconnect_CountersMoveWithSocketLabel()
    {
        var socket = "m" + Guid.NewGuid().ToString("N")[..8];
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 5; i++)
            {
                await s.SendTextAsync("0123456789");

                // Far slower than one frame per FrameDispatcher.TimingInterval: (nearly) every frame is timed.
                await Task.Delay(30);
            }

            if (s.Number == 1)
            {
                await s.CloseAsync(WebSocketCloseStatus.NormalClosure);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket(socket, server.Url()));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 10, "both connections delivered");

        using var response = await gateway.Http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(10, Value(text, "gateway_frames_received_total", socket));
        Assert.Equal(100, Value(text, "gateway_frames_received_size_bytes_total", socket));
        Assert.Equal(2, Value(text, "gateway_socket_connection_attempts_total", socket));
        Assert.Equal(1, Value(text, "gateway_socket_reconnects_total", socket));
        Assert.Equal(1, Value(text, "gateway_socket_active_connections", socket));
        // A stalled client can still read two frames within a millisecond of each other.
        Assert.InRange(Value(text, "gateway_frame_lag_seconds_count", socket), 8, 10);
        Assert.Equal(10, Value(text, "gateway_frames_handled_total", socket));
        Assert.Contains("# TYPE gateway_handler_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains($"gateway_socket_active_connections{{gateway_protocol=\"Raw\",gateway_socket=\"{socket}\"}} 1", text, StringComparison.Ordinal);

        // ASP.NET Core and runtime meters are exported too.
        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes_total", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_BurstFasterThanTimingInterval_TimingsBoundedCountsExact()
    {
        var socket = "b" + Guid.NewGuid().ToString("N")[..8];
        var burst = new byte[64];
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 5000; i++)
            {
                await s.SendAsync(burst, WebSocketMessageType.Binary);
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket(socket, server.Url()));
        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 5000, "the burst was handled");

        var text = await gateway.Http.GetStringAsync("/metrics");

        Assert.Equal(5000, Value(text, "gateway_frames_handled_total", socket));
        Assert.InRange(Value(text, "gateway_frame_lag_seconds_count", socket), 1, 4999);
    }

    private static double Value(string text, string metric, string socket)
    {
        var line = text.Split('\n').Single(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains($"gateway_socket=\"{socket}\"", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
