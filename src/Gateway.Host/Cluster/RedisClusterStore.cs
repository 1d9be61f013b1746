using System.Globalization;
using Gateway.Host.Configuration;
using StackExchange.Redis;

namespace Gateway.Host.Cluster;

/// <summary>
/// Memberships and leases in Redis, each operation one Lua script (atomic on the server). Keys share
/// the hash tag <c>{Name}</c>, so a Redis Cluster keeps them in one slot.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>{name}:members</c>: a sorted set, member = replica id, score = expiry in the server's milliseconds.</item>
/// <item><c>{name}:lease:&lt;socket&gt;</c>: <c>replica|token</c>, with a PX expiry; taken with SET NX semantics, renewed by compare-and-PEXPIRE, released by compare-and-DEL.</item>
/// <item><c>{name}:fence</c>: the fencing token counter (INCR).</item>
/// <item><c>{name}:epoch</c>, <c>{name}:quarantine</c>: the server's <c>run_id</c> last seen, and a
/// key that blocks every acquisition for one TTL after the run_id changed (a restart, or a failover,
/// that may have lost or rolled back leases).</item>
/// </list>
/// </remarks>
internal sealed class RedisClusterStore : IClusterStore
{
    private const string HeartbeatScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        local result = { now }
        for i = 1, #members, 2 do
          result[#result + 1] = members[i]
          result[#result + 1] = tonumber(members[i + 1])
        end
        return result
        """;

    // KEYS: lease, fence, epoch, quarantine. ARGV: replica, ttl (ms).
    private const string AcquireScript = """
        local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
        if redis.call('GET', KEYS[3]) ~= run then
          redis.call('SET', KEYS[3], run)
          redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
          return { -1, tonumber(ARGV[2]) }
        end
        local quarantine = redis.call('PTTL', KEYS[4])
        if quarantine > 0 then
          return { -1, quarantine }
        end
        local held = redis.call('PTTL', KEYS[1])
        if held ~= -2 then
          if held < 0 then held = tonumber(ARGV[2]) end
          return { 0, held }
        end
        local token = redis.call('INCR', KEYS[2])
        redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
        return { token, 0 }
        """;

    // KEYS: the leases. ARGV: ttl (ms), then the expected value of each lease.
    private const string RenewScript = """
        local result = {}
        for i, key in ipairs(KEYS) do
          if redis.call('GET', key) == ARGV[i + 1] then
            redis.call('PEXPIRE', key, ARGV[1])
            result[i] = 1
          else
            result[i] = 0
          end
        end
        return result
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    private readonly ClusterConnection _connection;
    private readonly string _prefix;

    public RedisClusterStore(ClusterConnection connection, ClusterOptions options)
    {
        _connection = connection;
        _prefix = KeyPrefix(options.Name);
    }

    public static string KeyPrefix(string clusterName) => "{" + clusterName + "}";

    private RedisKey Members => _prefix + ":members";

    private RedisKey Fence => _prefix + ":fence";

    private RedisKey Epoch => _prefix + ":epoch";

    private RedisKey Quarantine => _prefix + ":quarantine";

    /// <summary>Socket names are case-insensitive, like the configuration.</summary>
    public RedisKey Lease(string socket) => _prefix + ":lease:" + socket.ToUpperInvariant();

    private static RedisValue Value(string replicaId, long token) => replicaId + "|" + token.ToString(CultureInfo.InvariantCulture);

    public async Task<Membership> HeartbeatAsync(string replicaId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await _connection.Database.ScriptEvaluateAsync(HeartbeatScript, [Members], [replicaId, Milliseconds(ttl)]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
        var now = (long)result[0];
        var members = new List<string>((result.Length - 1) / 2);
        TimeSpan? next = null;
        for (var i = 1; i + 1 < result.Length; i += 2)
        {
            var member = (string)result[i]!;
            members.Add(member);
            if (member != replicaId)
            {
                var left = TimeSpan.FromMilliseconds(Math.Max(0, (long)result[i + 1] - now));
                next = next is { } n && n < left ? n : left;
            }
        }

        members.Sort(StringComparer.Ordinal);
        return new Membership(members, next);
    }

    public async Task<LeaseAttempt> AcquireAsync(string socket, string replicaId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await _connection.Database.ScriptEvaluateAsync(AcquireScript, [Lease(socket), Fence, Epoch, Quarantine], [replicaId, Milliseconds(ttl)]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
        var code = (long)result[0];
        var wait = TimeSpan.FromMilliseconds((long)result[1]);
        return code switch
        {
            > 0 => new LeaseAttempt(LeaseAttemptResult.Acquired, code, TimeSpan.Zero),
            0 => new LeaseAttempt(LeaseAttemptResult.Held, 0, wait),
            _ => new LeaseAttempt(LeaseAttemptResult.Quarantined, 0, wait),
        };
    }

    public async Task<bool[]> RenewAsync(IReadOnlyList<HeldLease> leases, string replicaId, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (leases.Count == 0)
        {
            return [];
        }

        var keys = new RedisKey[leases.Count];
        var values = new RedisValue[leases.Count + 1];
        values[0] = Milliseconds(ttl);
        for (var i = 0; i < leases.Count; i++)
        {
            keys[i] = Lease(leases[i].Socket);
            values[i + 1] = Value(replicaId, leases[i].Token);
        }

        var result = (RedisResult[])(await _connection.Database.ScriptEvaluateAsync(RenewScript, keys, values).WaitAsync(cancellationToken).ConfigureAwait(false))!;
        return [.. result.Select(r => (long)r == 1)];
    }

    public Task ReleaseAsync(HeldLease lease, string replicaId, CancellationToken cancellationToken)
        => _connection.Database.ScriptEvaluateAsync(ReleaseScript, [Lease(lease.Socket)], [Value(replicaId, lease.Token)]).WaitAsync(cancellationToken);

    public Task LeaveAsync(string replicaId, CancellationToken cancellationToken)
        => _connection.Database.SortedSetRemoveAsync(Members, replicaId).WaitAsync(cancellationToken);

    public async Task<string?[]> OwnersAsync(IReadOnlyList<string> sockets, CancellationToken cancellationToken)
    {
        if (sockets.Count == 0)
        {
            return [];
        }

        var values = await _connection.Database.StringGetAsync([.. sockets.Select(Lease)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. values.Select(v => v.IsNull ? null : ((string)v!).Split('|')[0])];
    }

    private static long Milliseconds(TimeSpan value) => (long)value.TotalMilliseconds;
}
