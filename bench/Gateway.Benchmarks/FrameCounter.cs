using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Benchmarks;

/// <summary>
/// Counts received messages for both the raw reader and the gateway's handler (one
/// <see cref="Interlocked.Increment(ref long)"/> each, no allocation) and completes a task when an
/// armed target is reached, so nothing polls during a measured window.
/// </summary>
internal sealed class FrameCounter
{
    private long _count;
    private long _target = long.MaxValue;
    private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connected;

    public long Count => Volatile.Read(ref _count);

    /// <summary>Connections announced to the handler and not yet ended.</summary>
    public int Connected => Volatile.Read(ref _connected);

    public void Add()
    {
        if (Interlocked.Increment(ref _count) == Volatile.Read(ref _target))
        {
            _reached.TrySetResult();
        }
    }

    /// <summary>Returns a task that completes once <paramref name="more"/> further messages were counted.</summary>
    public Task Arm(long more)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reached = reached;
        var target = Count + more;
        Volatile.Write(ref _target, target);
        if (Count >= target)
        {
            reached.TrySetResult();
        }

        return reached.Task;
    }

    public void ConnectionOpened() => Interlocked.Increment(ref _connected);

    public void ConnectionClosed() => Interlocked.Decrement(ref _connected);

    /// <summary>Waits (polling, outside any measured window) until <see cref="Connected"/> reaches <paramref name="count"/>.</summary>
    public async Task WaitForConnectedAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Connected < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"only {Connected} of {count} sockets connected within {timeout.TotalSeconds} s");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }
}

/// <summary>The benchmark's frame handler: counts and returns a completed task.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1812", Justification = "Created by dependency injection.")]
internal sealed class NoopHandler(FrameCounter counter, LatencyRecorder latency) : IFrameHandler
{
    public const string Name = "noop";

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        if (latency.Active)
        {
            latency.Record(frame.Timestamp);
        }

        counter.Add();
        return ValueTask.CompletedTask;
    }

    public ValueTask OnConnectedAsync(UpstreamConnection connection, CancellationToken cancellationToken)
    {
        counter.ConnectionOpened();
        return ValueTask.CompletedTask;
    }

    public ValueTask OnDisconnectedAsync(UpstreamConnection connection, DisconnectReason reason, CancellationToken cancellationToken)
    {
        counter.ConnectionClosed();
        return ValueTask.CompletedTask;
    }
}
