namespace Gateway.Host.Health;

/// <summary>The sockets as <c>/sockets</c> lists them: this gateway's, or in a cluster every replica's, each with its owner.</summary>
internal interface ISocketListing
{
    Task<IReadOnlyList<SocketStatusSnapshot>> ListAsync(CancellationToken cancellationToken);

    Task<SocketStatusSnapshot?> GetAsync(string name, CancellationToken cancellationToken);
}

/// <summary>A single gateway: the sockets it runs.</summary>
internal sealed class TrackerSocketListing(SocketHealthTracker tracker) : ISocketListing
{
    public Task<IReadOnlyList<SocketStatusSnapshot>> ListAsync(CancellationToken cancellationToken) => Task.FromResult(tracker.Snapshot());

    public Task<SocketStatusSnapshot?> GetAsync(string name, CancellationToken cancellationToken)
        => Task.FromResult(tracker.TryGet(name, out var status) ? status.Snapshot() : null);
}
