namespace Gateway.Host.Dispatch;

/// <summary>Handlers hear of each connection once, before its first frame, and of its end once.</summary>
internal sealed partial class FrameDispatcher
{
    private async ValueTask EnsureAnnouncedAsync(UpstreamConnection connection)
    {
        if (ReferenceEquals(_announced, connection))
        {
            return;
        }

        if (_announced is { } previous)
        {
            // Its Disconnected item was discarded by the drop policy; use the reason kept aside.
            var kept = _lastDisconnect;
            var reason = kept is not null && ReferenceEquals(kept.Connection, previous)
                ? kept.Reason
                : new DisconnectReason(null, "connection replaced", null, ClosedByGateway: false);
            await AnnounceDisconnectAsync(previous, reason).ConfigureAwait(false);
        }

        _announced = connection;
        var pipeline = _pipeline;
        for (var i = 0; i < pipeline.Handlers.Length; i++)
        {
            try
            {
                await pipeline.Handlers[i].OnConnectedAsync(connection, _abort.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && _abort.IsCancellationRequested))
            {
                HandlerFailed(pipeline, i, ex, 0);
            }
        }
    }

    private async ValueTask AnnounceDisconnectAsync(UpstreamConnection connection, DisconnectReason reason)
    {
        _announced = null;
        var pipeline = _pipeline;
        for (var i = 0; i < pipeline.Handlers.Length; i++)
        {
            try
            {
                await pipeline.Handlers[i].OnDisconnectedAsync(connection, reason, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                HandlerFailed(pipeline, i, ex, 0);
            }
        }
    }

    private sealed record DisconnectEvent(UpstreamConnection Connection, DisconnectReason Reason);
}
