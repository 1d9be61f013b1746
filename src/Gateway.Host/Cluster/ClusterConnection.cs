using Gateway.Host.Configuration;
using StackExchange.Redis;

namespace Gateway.Host.Cluster;

/// <summary>
/// The replica's one connection to the cluster's Redis, for leases, forwarded sends and the socket
/// listing. Reconnects by itself; every command is bounded by a third of the lease TTL, so that a
/// renewal that hangs fails while there is still time to renew again.
/// </summary>
internal sealed class ClusterConnection : IAsyncDisposable
{
    private readonly ClusterOptions _options;
    private readonly Lock _lock = new();
    private ConnectionMultiplexer? _multiplexer;

    // Built on first use, after the configuration was validated (hosted services are constructed before any starts).
    public ClusterConnection(ClusterOptions options) => _options = options;

    private ConfigurationOptions Configuration()
    {
        var configuration = ConfigurationOptions.Parse(_options.Redis ?? string.Empty);
        configuration.AbortOnConnectFail = false;
        configuration.ClientName ??= "gateway-" + _options.ReplicaId;
        var bound = (int)Math.Clamp(_options.LeaseTtl.TotalMilliseconds / 3, 200, 10_000);
        configuration.AsyncTimeout = bound;
        configuration.SyncTimeout = bound;
        configuration.ConnectTimeout = bound;
        return configuration;
    }

    /// <summary>The multiplexer; connecting starts on first use and continues in the background while Redis is away.</summary>
    public ConnectionMultiplexer Multiplexer
    {
        get
        {
            lock (_lock)
            {
                return _multiplexer ??= ConnectionMultiplexer.Connect(Configuration());
            }
        }
    }

    public IDatabase Database => Multiplexer.GetDatabase();

    public ISubscriber Subscriber => Multiplexer.GetSubscriber();

    public async ValueTask DisposeAsync()
    {
        ConnectionMultiplexer? multiplexer;
        lock (_lock)
        {
            multiplexer = _multiplexer;
            _multiplexer = null;
        }

        if (multiplexer is not null)
        {
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
