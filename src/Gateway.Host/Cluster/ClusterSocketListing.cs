using System.Text.Json;
using Gateway.Host.Configuration;
using Gateway.Host.Endpoints;
using Gateway.Host.Health;
using Gateway.Host.Sockets;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Gateway.Host.Cluster;

/// <summary>
/// <c>/sockets</c> in a cluster: every configured socket with its owner. Each replica writes the
/// status of the sockets it runs into the hash <c>{Name}:status</c> every renewal interval; the
/// listing takes this replica's own sockets live and the others' from that hash, as their owners last wrote them.
/// </summary>
internal sealed class ClusterSocketListing(
    SocketHealthTracker tracker, SocketSupervisor supervisor, ClusterConnection connection, IClusterStore store, ClusterOptions options, TimeProvider time) : BackgroundService, ISocketListing
{
    private readonly RedisKey _statusKey = RedisClusterStore.KeyPrefix(options.Name) + ":status";

    public async Task<IReadOnlyList<SocketStatusSnapshot>> ListAsync(CancellationToken cancellationToken)
    {
        var configured = supervisor.Current.Sockets;
        var local = tracker.Snapshot().ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        var remote = configured.Where(s => s.Value.Enabled && !local.ContainsKey(s.Key)).Select(s => s.Key).ToList();
        var result = new List<SocketStatusSnapshot>(local.Values);
        result.AddRange(await RemoteAsync(remote, cancellationToken).ConfigureAwait(false));
        return [.. result.OrderBy(s => s.Name, StringComparer.Ordinal)];
    }

    public async Task<SocketStatusSnapshot?> GetAsync(string name, CancellationToken cancellationToken)
    {
        if (tracker.TryGet(name, out var status))
        {
            return status.Snapshot();
        }

        var key = supervisor.Current.Sockets.Keys.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
        return key is not null && supervisor.Current.Sockets[key].Enabled ? (await RemoteAsync([key], cancellationToken).ConfigureAwait(false))[0] : null;
    }

    private async Task<List<SocketStatusSnapshot>> RemoteAsync(List<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return [];
        }

        string?[] owners;
        RedisValue[] written;
        try
        {
            owners = await store.OwnersAsync(names, cancellationToken).ConfigureAwait(false);
            written = await connection.Database.HashGetAsync(_statusKey, [.. names.Select(n => (RedisValue)n.ToUpperInvariant())]).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return [.. names.Select(n => Placeholder(n, null, $"owner unknown: cluster Redis unreachable ({ex.Message})"))];
        }

        var result = new List<SocketStatusSnapshot>(names.Count);
        for (var i = 0; i < names.Count; i++)
        {
            SocketStatusSnapshot? snapshot = null;
            if (!written[i].IsNull)
            {
                try
                {
                    snapshot = JsonSerializer.Deserialize<SocketStatusSnapshot>((string)written[i]!, SocketApiEndpoints.JsonOptions);
                }
                catch (JsonException)
                {
                    // Written by another version: shown as unknown below.
                }
            }

            // Only what the current lease holder wrote counts; an earlier owner's entry is stale.
            result.Add(snapshot is not null && owners[i] is { } owner && snapshot.Owner == owner
                ? snapshot
                : Placeholder(names[i], owners[i], owners[i] is null ? "no replica holds its lease (starting, or moving to another replica)" : "its owner has not reported its state yet"));
        }

        return result;
    }

    private SocketStatusSnapshot Placeholder(string name, string? owner, string detail)
    {
        var socket = supervisor.Current.Sockets.TryGetValue(name, out var o) ? o : null;
        return new SocketStatusSnapshot(
            name, SocketState.Starting, detail, time.GetUtcNow(), socket?.Protocol.ToString() ?? string.Empty, socket?.Transport.ToString() ?? string.Empty, socket?.Required ?? false,
            socket?.Url is { } url ? UrlRedaction.ForDisplay(url).ToString() : string.Empty, 0, 0, null, null, null, null, null, null, null, null, 0, 0, 0, 0, 0, 0, 0, socket?.Groups ?? [], null)
        {
            Owner = owner,
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.LeaseTtl / 3, time);
        try
        {
            do
            {
                await PublishAsync().ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Writes the state of the sockets running here, for the other replicas' listings.</summary>
    private async Task PublishAsync()
    {
        var entries = tracker.Snapshot().Select(s => new HashEntry(s.Name.ToUpperInvariant(), JsonSerializer.Serialize(s, SocketApiEndpoints.JsonOptions))).ToArray();
        if (entries.Length == 0)
        {
            return;
        }

        try
        {
            await connection.Database.HashSetAsync(_statusKey, entries).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis is away: the health check says so; the listing shows what was written last.
        }
    }
}
