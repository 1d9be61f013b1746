using Gateway.Host.Protocols;

namespace Gateway.Host.Dispatch;

/// <summary>The end of a socket's queue: drained while the socket is open, then what is left reported as lost.</summary>
internal sealed partial class FrameDispatcher
{
    /// <summary>
    /// Stops accepting frames and waits, up to <paramref name="timeout"/>, until the handlers finished
    /// the queue (the socket is still open, so acknowledgements reach the server). <see cref="CompleteAsync"/> follows.
    /// </summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        var started = _time.GetTimestamp();
        _queue.Complete();
        try
        {
            await _consumer.WaitAsync(timeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // CompleteAsync stops the handlers and reports what is left.
            return;
        }

        // Frames handed to sinks: their confirmations, and so their acknowledgements, within the budget too.
        await WaitSettledAsync(timeout - _time.GetElapsedTime(started)).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting frames and lets the handlers finish the queue within <paramref name="timeout"/>.
    /// Frames still queued after that are counted as dropped (reason <c>shutdown</c>) and logged.
    /// </summary>
    /// <param name="timeout">What is left of the shutdown budget.</param>
    /// <param name="budget">The whole budget (<c>ShutdownTimeout</c>), for the report.</param>
    public async Task CompleteAsync(TimeSpan timeout, TimeSpan? budget = null)
    {
        var started = _time.GetTimestamp();
        _queue.Complete();
        try
        {
            await _consumer.WaitAsync(timeout, _time).ConfigureAwait(false);
            await WaitSettledAsync(timeout - _time.GetElapsedTime(started)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            await _consumer.ConfigureAwait(false);
        }

        // Anything left (the consumer stops early when aborted; sinks that never confirmed) is reported, never silently lost.
        var lost = _lostInFlight + LoseUnsettled();
        var left = new FrameEnvelope[_queue.ChunkSize];
        for (int taken; (taken = _queue.Take(left)) > 0;)
        {
            foreach (var envelope in left.AsSpan(0, taken))
            {
                if (envelope.Kind == EnvelopeKind.Frame)
                {
                    lost++;
                    Finish(envelope, FrameOutcome.Lost, "shutdown");
                }
            }
        }

        if (lost > 0)
        {
            Log.FramesLostAtStop(_logger, _socketName, lost, budget ?? timeout);
        }

        if (_announced is { } connection)
        {
            await AnnounceDisconnectAsync(connection, new DisconnectReason(null, "gateway stopped", null, ClosedByGateway: true) { Kind = DisconnectKind.Stopping }).ConfigureAwait(false);
        }

        _abort.Dispose();
    }
}
