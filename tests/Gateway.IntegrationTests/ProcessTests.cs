using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Gateway.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.IntegrationTests;

/// <summary>The built gateway as a real process, configured by environment variables alone.</summary>
public sealed class ProcessTests
{
    [Fact]
    public async Task Process_SocketFromEnvironmentToFileHandler_EveryFrameAcrossServerRestartThenCleanSigterm()
    {
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 50; i++)
            {
                await s.SendTextAsync($"{{\"life\":{s.Number},\"i\":{i}}}");
            }
        });
        var directory = Directory.CreateTempSubdirectory("gateway-process-");
        var port = FreePort();
        using var process = StartGateway(directory.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
            ["Gateway__Sockets__feed__Handlers__0"] = "file",
            ["Gateway__Sockets__feed__Reconnect__MinDelay"] = "00:00:00.100",
            ["Gateway__Handlers__file__Directory"] = directory.FullName,
        });
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Eventually.TrueAsync(() => Get(http, "/health/ready") == HttpStatusCode.OK, "the process is ready", TimeSpan.FromSeconds(30));
            var file = Path.Combine(directory.FullName, "feed.jsonl");
            await Eventually.TrueAsync(() => ReadLines(file).Count == 50, "the first life's frames are in the file");

            await server.RestartAsync();
            await Eventually.TrueAsync(() => ReadLines(file).Count == 100, "the second life's frames are in the file", TimeSpan.FromSeconds(30));

            var lines = ReadLines(file).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), lines.Select(l => l.GetProperty("seq").GetInt64()));
            Assert.All(lines, l => Assert.Equal("feed", l.GetProperty("socket").GetString()));
            Assert.All(lines, l => Assert.Equal("text", l.GetProperty("kind").GetString()));
            Assert.All(lines, l => Assert.True(l.GetProperty("receivedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5)));
            Assert.Equal(
                Enumerable.Range(0, 50).Select(i => $"{{\"life\":1,\"i\":{i}}}").Concat(Enumerable.Range(0, 50).Select(i => $"{{\"life\":2,\"i\":{i}}}")),
                lines.Select(l => l.GetProperty("text").GetString()));
            Assert.Equal([1L, 2L], lines.Select(l => l.GetProperty("connection").GetInt64()).Distinct());

            // SIGTERM: the process closes the upstream with 1001 and exits 0 within the shutdown timeout.
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);
            var last = server.LastSession!;
            await last.Closed.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, last.ClientCloseStatus);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Process_InvalidEnvironmentConfiguration_ExitsNonZeroNamingTheKey()
    {
        var directory = Directory.CreateTempSubdirectory("gateway-process-");
        using var process = StartGateway(directory.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort()}",
            ["Gateway__Sockets__prices__Url"] = "http://x",
            ["Gateway__Sockets__vault__Url"] = "http://bob:pw-SECRET-1@vault.invalid/feed?token=SECRET-2",
        });
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exit.Token);
            Assert.NotEqual(0, process.ExitCode);
            var output = await stdout + await stderr;
            Assert.Contains("Gateway:Sockets:prices:Url: 'http://x' is not a ws:// or wss:// URL", output, StringComparison.Ordinal);
            Assert.Contains("Gateway:Sockets:vault:Url: 'http://vault.invalid/feed?redacted' is not a ws:// or wss:// URL", output, StringComparison.Ordinal);
            Assert.DoesNotContain("SECRET", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Process_SecretsInUrlAndHeaders_NeverLoggedAndLogsAreJsonLines()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("payload"));
        server.RejectHandshake = _ => server.HandshakeHeaders.Count <= 2 ? 401 : null;
        var directory = Directory.CreateTempSubdirectory("gateway-process-");
        var port = FreePort();
        using var process = StartGateway(directory.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = $"ws://carol:pw-SECRET-1@127.0.0.1:{server.Port}/ws?apikey=SECRET-2",
            ["Gateway__Sockets__feed__Headers__Authorization"] = "Bearer SECRET-3",
            ["Gateway__Sockets__feed__Headers__X-Api-Key"] = "SECRET-4",
            ["Gateway__Sockets__feed__Reconnect__MinDelay"] = "00:00:00.050",
            ["Serilog__MinimumLevel__Default"] = "Debug",
        });
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Eventually.TrueAsync(() => lines.Any(l => l.Contains("payload", StringComparison.Ordinal)), "the frame was logged after two refused handshakes", TimeSpan.FromSeconds(30));
            var health = await http.GetStringAsync("/health/ready");
            var metrics = await http.GetStringAsync("/metrics");

            // The secrets did reach the server...
            Assert.Equal("Bearer SECRET-3", server.HandshakeHeaders.Last()["Authorization"].ToString());
            Assert.Equal("SECRET-2", server.LastSession!.Context.Request.Query["apikey"].ToString());

            // ...and nowhere else.
            Assert.Contains(lines, l => l.Contains("HTTP 401", StringComparison.Ordinal));
            foreach (var text in lines.Append(health).Append(metrics))
            {
                Assert.DoesNotContain("SECRET", text, StringComparison.Ordinal);
                Assert.DoesNotContain("pw-", text, StringComparison.Ordinal);
            }

            // Outside Development every log line is one JSON object.
            Assert.All(lines, l => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(l).RootElement.ValueKind));
            Assert.Contains(lines, l => JsonDocument.Parse(l).RootElement.TryGetProperty("RenderedMessage", out _));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Process_SigtermMidStream_ExitsZeroAndEveryReceivedFrameHandledOrReported()
    {
        var sent = 0;
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            for (var i = 0; i < 200_000 && s.Socket.State == WebSocketState.Open; i++)
            {
                await s.SendTextAsync($"{{\"i\":{i}}}");
                Interlocked.Increment(ref sent);
            }
        });
        var directory = Directory.CreateTempSubdirectory("gateway-process-");
        using var process = StartGateway(directory.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort()}",
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__feed__Url"] = server.Url().ToString(),
            ["Gateway__Sockets__feed__Handlers__0"] = "file",
            ["Gateway__Sockets__feed__Queue__Capacity"] = "256",
            ["Gateway__Handlers__file__Directory"] = directory.FullName,
            ["Gateway__ShutdownTimeout"] = "00:00:05",
        });
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        try
        {
            var file = Path.Combine(directory.FullName, "feed.jsonl");
            await Eventually.TrueAsync(() => ReadLines(file).Count > 2000, "frames are streaming into the file", TimeSpan.FromSeconds(30));

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);

            var summary = lines.Select(l => JsonDocument.Parse(l).RootElement)
                .Single(e => e.GetProperty("Properties").TryGetProperty("EventId", out var id) && id.TryGetProperty("Id", out var value) && value.GetInt32() == 114)
                .GetProperty("Properties");
            var received = summary.GetProperty("FramesReceived").GetInt64();
            var handled = summary.GetProperty("FramesHandled").GetInt64();
            var dropped = summary.GetProperty("FramesDropped").GetInt64();
            var written = ReadLines(file);
            Assert.Equal(received, handled + dropped);
            Assert.Equal(handled, written.Count);
            Assert.InRange(received, 2000, Volatile.Read(ref sent));

            // What was handled is exactly the stream's prefix, in order: nothing skipped silently.
            Assert.Equal(Enumerable.Range(1, written.Count).Select(i => (long)i), written.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, server.LastSession!.ClientCloseStatus);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Process_OtlpEndpointSet_PushesGatewayMetricsOverOtlpHttp()
    {
        await using var feed = await UpstreamServer.StartAsync(s => s.SendTextAsync("tick"));
        var bodies = new System.Collections.Concurrent.ConcurrentQueue<byte[]>();
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.MapPost("/v1/metrics", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            bodies.Enqueue(body.ToArray());
            return Microsoft.AspNetCore.Http.Results.Ok();
        });
        await collector.StartAsync();
        var directory = Directory.CreateTempSubdirectory("gateway-process-");
        using var process = StartGateway(directory.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort()}",
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Sockets__otlpfeed__Url"] = feed.Url().ToString(),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Urls.First(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_SERVICE_NAME"] = "gateway-under-test",
        });
        try
        {
            static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) >= 0;
            await Eventually.TrueAsync(
                () => bodies.Any(b => Contains(b, "gateway.frames.received") && Contains(b, "otlpfeed")),
                "an OTLP export carried the gateway's frame counter for the socket", TimeSpan.FromSeconds(30));
            Assert.Contains(bodies, b => Contains(b, "gateway-under-test"));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            directory.Delete(recursive: true);
        }
    }

    private static Process StartGateway(string workingDirectory, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Gateway.Host.dll")])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the gateway");
        return process;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static HttpStatusCode Get(HttpClient http, string path)
    {
        try
        {
            using var response = http.GetAsync(path).GetAwaiter().GetResult();
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static List<string> ReadLines(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
