namespace Gateway.Benchmarks;

/// <summary>
/// The flood server as the throughput benchmark drives it: in this process (<see cref="BenchServer"/>)
/// or in a child process on its own CPU (<see cref="FloodServerProcess"/>, <c>--pinned</c>).
/// </summary>
internal interface IFloodServer : IAsyncDisposable
{
    /// <summary>
    /// A flood whose connections each send <paramref name="framesPerConnection"/>[p] frames of <paramref name="payloadSize"/>
    /// bytes once phase p is released: as fast as the connection takes them, or <paramref name="pace"/> frames per second
    /// per connection (in a burst about every millisecond) when it is above 0.
    /// </summary>
    Task<FloodHandle> CreateSessionAsync(int payloadSize, bool binary, long[] framesPerConnection, double pace = 0);

    /// <summary>Releases phase <paramref name="phase"/> on every connection of the session; cheap, called at the start of a measured window.</summary>
    void Go(FloodHandle session, int phase);

    /// <summary>Upgraded connections of the session so far.</summary>
    Task<int> ConnectedAsync(FloodHandle session);

    Task RemoveSessionAsync(FloodHandle session);

    /// <summary>Removes and describes the server's Warning+ log events; empty when there were none.</summary>
    Task<string> TakeLogSummaryAsync();
}
