using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Transport;

/// <summary>
/// The node <c>ws</c> server in <c>tests/peers/ws</c> (<c>server.js</c>, ws pinned in its package-lock.json), one
/// process per test class: a real, widely used WebSocket implementation that misbehaves on purpose, per URL path.
/// Without node or the peer's <c>node_modules</c> (<c>npm ci --prefix tests/peers/ws</c>) its tests are skipped,
/// or fail where they are required: <c>GATEWAY_REQUIRE_NODE=1</c> (set by <c>.ci/run</c>), else as broker tests
/// are (<c>GATEWAY_REQUIRE_BROKERS</c>, <c>CI</c>).
/// </summary>
public sealed class NodeWsPeer : IAsyncLifetime
{
    public const string RequireVariable = "GATEWAY_REQUIRE_NODE";

    private static int s_paths;

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private Process? _node;
    private string? _absent;
    private int _port;

    public static string Directory { get; } = Path.Combine(TestDependency.RepositoryRoot(), "tests", "peers", "ws");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Path.Combine(Directory, "node_modules", "ws", "package.json")))
        {
            _absent = $"{Path.Combine(Directory, "node_modules")} has no ws (run `npm ci --prefix tests/peers/ws`)";
            return;
        }

        var start = new ProcessStartInfo("node", "server.js")
        {
            WorkingDirectory = Directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        try
        {
            _node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        }
        catch (Win32Exception e)
        {
            _absent = $"node is not on PATH ({e.Message}); install node 18+ (`apt-get install -y nodejs npm`, or `.ci/node.sh` as root)";
            return;
        }

        // The server prints "listening <port>" once it accepts connections; it exits when its stdin closes.
        var line = await _node.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
        {
            var error = await _node.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(5));
            throw new InvalidOperationException($"node server.js did not start: '{line}' {error}");
        }

        _port = int.Parse(line["listening ".Length..], CultureInfo.InvariantCulture);
        _node.ErrorDataReceived += (_, _) => { };
        _node.BeginErrorReadLine();
    }

    /// <summary>A URL of a fresh path for <paramref name="mode"/> (its first connection misbehaves), or skip/fail without node.</summary>
    public Uri Url(string mode, string query = "")
    {
        if (_node is null)
        {
            TestDependency.Unavailable($"The node ws peer (tests/peers/ws) is not available: {_absent}.", "Node peer tests", RequireVariable);
        }

        return new Uri($"ws://127.0.0.1:{_port}/t{Interlocked.Increment(ref s_paths)}/{mode}{query}");
    }

    /// <summary>What the server saw on the path of <paramref name="url"/>.</summary>
    public async Task<PeerStats> StatsAsync(Uri url)
        => await _http.GetFromJsonAsync<PeerStats>(new Uri($"http://127.0.0.1:{_port}/stats{url.AbsolutePath}")) ?? throw new InvalidOperationException("no stats");

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (_node is { } node)
        {
            node.StandardInput.Close();
            if (!node.WaitForExit(5_000))
            {
                node.Kill(entireProcessTree: true);
            }

            await node.WaitForExitAsync();
            node.Dispose();
        }
    }

    /// <summary>The server's record of one path: connections, the close frames it received, pong payloads, its permessage-deflate answers, what it received.</summary>
    public sealed record PeerStats(
        [property: JsonPropertyName("connections")] int Connections,
        [property: JsonPropertyName("closes")] IReadOnlyList<PeerClose> Closes,
        [property: JsonPropertyName("pongs")] IReadOnlyList<string> Pongs,
        [property: JsonPropertyName("extensions")] IReadOnlyList<string> Extensions,
        [property: JsonPropertyName("received")] IReadOnlyList<string> Received);

    /// <summary>A close the server saw: ws reports 1006 when the connection ended without a close frame, 1005 for one without a code.</summary>
    public sealed record PeerClose(
        [property: JsonPropertyName("connection")] int Connection,
        [property: JsonPropertyName("code")] int Code,
        [property: JsonPropertyName("reason")] string Reason);
}
