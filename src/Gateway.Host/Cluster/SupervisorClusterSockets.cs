using Gateway.Host.Sockets;

namespace Gateway.Host.Cluster;

/// <summary>The supervisor's sockets, opened and closed by lease.</summary>
internal sealed class SupervisorClusterSockets : IClusterSockets
{
    private readonly SocketSupervisor _supervisor;

    public SupervisorClusterSockets(SocketSupervisor supervisor)
    {
        _supervisor = supervisor;
        supervisor.ReloadProcessed += diff =>
        {
            if (diff is not null)
            {
                Changed?.Invoke();
            }
        };
    }

    public event Action? Changed;

    public IReadOnlyCollection<string> Configured => [.. _supervisor.Current.Sockets.Where(s => s.Value.Enabled).Select(s => s.Key)];

    public void Open(string name) => _supervisor.Admit(name);

    public void LimitStops(Func<string, TimeSpan, TimeSpan> budget) => _supervisor.StopBudget = budget;

    public Task CloseAsync(string name, TimeSpan timeout) => _supervisor.RevokeAsync(name, timeout);
}
