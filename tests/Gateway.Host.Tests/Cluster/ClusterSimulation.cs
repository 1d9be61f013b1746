using Gateway.Host.Cluster;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Cluster;

/// <summary>
/// Replicas (real <see cref="ClusterCoordinator"/>s) over one <see cref="InMemoryClusterStore"/>, on a
/// fake clock stepped in small increments: each replica runs its round when the round it ran last said,
/// and its deadline check every step. The sockets are a ledger of who has which one open, which records
/// every open and close and any moment two replicas had the same socket open.
/// </summary>
internal sealed class ClusterSimulation
{
    public static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);

    public ClusterSimulation(TimeSpan leaseTtl, IEnumerable<string> sockets)
    {
        LeaseTtl = leaseTtl;
        Sockets = [.. sockets];
        Store = new InMemoryClusterStore(Time);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public InMemoryClusterStore Store { get; }

    public TimeSpan LeaseTtl { get; }

    /// <summary>The configuration every replica reads (change it, then <see cref="Replica.RaiseChanged"/>).</summary>
    public List<string> Sockets { get; }

    public Dictionary<string, Replica> Replicas { get; } = new(StringComparer.Ordinal);

    /// <summary>Socket name -> the replica that has it open now.</summary>
    public Dictionary<string, string> Open { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<(DateTimeOffset At, string Replica, string Socket, bool Opened, TimeSpan Budget)> Events { get; } = [];

    public List<string> Violations { get; } = [];

    public Replica Add(string id)
    {
        var replica = new Replica(this, id);
        Replicas[id] = replica;
        return replica;
    }

    /// <summary>Runs the live replicas for <paramref name="duration"/> of fake time.</summary>
    public async Task RunAsync(TimeSpan duration, Func<bool>? until = null)
    {
        var end = Time.GetUtcNow() + duration;
        while (Time.GetUtcNow() < end && !(until?.Invoke() ?? false))
        {
            foreach (var replica in Replicas.Values.Where(r => r.Alive))
            {
                await replica.StepAsync();
            }

            Time.Advance(Step);
        }
    }

    public sealed class Replica : IClusterSockets
    {
        private readonly ClusterSimulation _cluster;
        private DateTimeOffset _due;

        public Replica(ClusterSimulation cluster, string id)
        {
            _cluster = cluster;
            Id = id;
            Coordinator = new ClusterCoordinator(cluster.Store, this, new ClusterOptions { LeaseTtl = cluster.LeaseTtl, ReplicaId = id, Redis = "test" }, () => TimeSpan.FromSeconds(10), cluster.Time, NullLogger<ClusterCoordinator>.Instance);
            _due = cluster.Time.GetUtcNow();
        }

        public string Id { get; }

        public ClusterCoordinator Coordinator { get; }

        /// <summary>False after <see cref="Kill"/>: no more rounds, no deadline checks, no closes (kill -9).</summary>
        public bool Alive { get; private set; } = true;

        public IReadOnlyCollection<string> Configured => [.. _cluster.Sockets];

        public event Action? Changed;

        public void Kill()
        {
            Alive = false;

            // The process is gone, and with it its connections: the upstream sees them close now.
            foreach (var socket in _cluster.Open.Where(o => o.Value == Id).Select(o => o.Key).ToList())
            {
                _cluster.Open.Remove(socket);
            }
        }

        public Func<string, TimeSpan, TimeSpan>? StopLimit { get; private set; }

        public void LimitStops(Func<string, TimeSpan, TimeSpan> budget) => StopLimit = budget;

        public void RaiseChanged() => Changed?.Invoke();

        public async Task StepAsync()
        {
            if (_cluster.Time.GetUtcNow() >= _due)
            {
                var delay = await Coordinator.TickAsync(CancellationToken.None);
                _due = _cluster.Time.GetUtcNow() + delay;
            }

            Coordinator.EnforceDeadlines();
            await Coordinator.ClosingAsync();
        }

        public void Open(string name)
        {
            if (_cluster.Open.TryGetValue(name, out var other))
            {
                _cluster.Violations.Add($"{_cluster.Time.GetUtcNow():O}: {Id} opened {name} while {other} had it open");
            }

            _cluster.Open[name] = Id;
            _cluster.Events.Add((_cluster.Time.GetUtcNow(), Id, name, true, TimeSpan.Zero));
        }

        public Task CloseAsync(string name, TimeSpan timeout)
        {
            if (_cluster.Open.TryGetValue(name, out var holder) && holder == Id)
            {
                _cluster.Open.Remove(name);
            }

            _cluster.Events.Add((_cluster.Time.GetUtcNow(), Id, name, false, timeout));
            return Task.CompletedTask;
        }
    }
}
