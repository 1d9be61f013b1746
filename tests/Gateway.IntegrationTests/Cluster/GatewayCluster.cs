using System.Globalization;
using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>Gateway processes sharing sockets through a <see cref="ClusterRedis"/>, each socket's upstream a <see cref="ConnectionLedger"/> path.</summary>
internal sealed class GatewayCluster : IAsyncDisposable
{
    /// <summary>
    /// Short, so that the tests are quick; the timing argument scales with it. <c>GATEWAY_CLUSTER_TEST_LEASE_TTL</c>
    /// (seconds) measures another, e.g. the default 10 s for docs/operations.md.
    /// </summary>
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("GATEWAY_CLUSTER_TEST_LEASE_TTL"), CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : 3);

    /// <summary>The first reconnect delay (the "one backoff step" of the failover bound), without jitter.</summary>
    public static readonly TimeSpan BackoffStep = TimeSpan.FromMilliseconds(200);

    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, string> _environment;

    public GatewayCluster(ClusterRedis redis, ConnectionLedger ledger, IReadOnlyList<string> sockets, Dictionary<string, string>? extra = null)
    {
        Sockets = sockets;
        _environment = new()
        {
            ["Gateway__Cluster__Redis"] = redis.Endpoint,
            ["Gateway__Cluster__Name"] = "test-" + Guid.NewGuid().ToString("N")[..8],
            ["Gateway__Cluster__LeaseTtl"] = LeaseTtl.ToString("c", CultureInfo.InvariantCulture),
            ["Gateway__Sockets__demo__Enabled"] = "false",
            ["Gateway__Defaults__Reconnect__MinDelay"] = BackoffStep.ToString("c", CultureInfo.InvariantCulture),
            ["Gateway__Defaults__Reconnect__Jitter"] = "0",
            ["Gateway__ShutdownTimeout"] = "00:00:05",
            ["Gateway__Api__AllowAnonymous"] = "true",
            ["Serilog__MinimumLevel__Default"] = "Information",
        };
        foreach (var socket in sockets)
        {
            _environment[$"Gateway__Sockets__{socket}__Url"] = ledger.Url(socket).ToString();
        }

        foreach (var (key, value) in extra ?? [])
        {
            _environment[key] = value;
        }
    }

    public IReadOnlyList<string> Sockets { get; }

    public Dictionary<string, GatewayProcess> Replicas { get; } = new(StringComparer.Ordinal);

    /// <param name="files">Files for the working directory, e.g. an <c>appsettings.json</c> (watched: edit it to reload).</param>
    public GatewayProcess Start(string replicaId, Dictionary<string, string>? files = null)
    {
        var environment = new Dictionary<string, string>(_environment) { ["Gateway__Cluster__ReplicaId"] = replicaId };
        var process = GatewayProcess.Start(environment, files);
        Replicas[replicaId] = process;
        return process;
    }

    public async Task KillAsync(string replicaId)
    {
        await Replicas[replicaId].KillAsync();
        await Replicas[replicaId].DisposeAsync();
        Replicas.Remove(replicaId);
    }

    /// <summary><c>GET /sockets</c> of one replica: each socket's owner and state.</summary>
    public static async Task<Dictionary<string, (string? Owner, string State)>> ListAsync(GatewayProcess replica)
    {
        try
        {
            using var response = await replica.Http.GetAsync("/sockets");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return [];
            }

            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return document.RootElement.EnumerateArray().ToDictionary(
                s => s.GetProperty("name").GetString()!,
                s => (s.TryGetProperty("owner", out var owner) ? owner.GetString() : null, s.GetProperty("state").GetString()!));
        }
        catch (HttpRequestException)
        {
            return [];
        }
    }

    /// <summary>Waits until <paramref name="replica"/> lists every socket Ready, each owned by one of <paramref name="owners"/>.</summary>
    public async Task<Dictionary<string, string>> WaitAllReadyAsync(GatewayProcess replica, IReadOnlyCollection<string> owners, TimeSpan timeout)
    {
        Dictionary<string, (string? Owner, string State)> listed = [];
        await Eventually.TrueAsync(
            async () =>
            {
                listed = await ListAsync(replica);
                return Sockets.All(s => listed.TryGetValue(s, out var e) && e.State == "Ready" && e.Owner is { } o && owners.Contains(o));
            },
            $"every socket is Ready on one of [{string.Join(", ", owners)}]",
            timeout);
        return Sockets.ToDictionary(s => s, s => listed[s].Owner!);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in Replicas.Values)
        {
            await replica.DisposeAsync();
        }
    }
}
