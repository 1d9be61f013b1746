namespace Gateway;

/// <summary>Receives the frames of every socket whose <c>Handlers</c> list names it.</summary>
/// <remarks>
/// <para>Register implementations with <c>services.AddFrameHandler&lt;T&gt;("name")</c>; one singleton
/// instance serves every socket, so calls for different sockets may run concurrently. Calls for one
/// socket never overlap and arrive in order: connected, its frames, disconnected.</para>
/// <para>An exception thrown by a handler is logged and counted; the socket's next handler and the
/// next frame still run.</para>
/// </remarks>
public interface IFrameHandler
{
    /// <summary>Handles one frame.</summary>
    /// <param name="frame">The frame; its payload is valid only until the returned task completes.</param>
    /// <param name="cancellationToken">Signalled when the gateway stops waiting for the handler (shutdown).</param>
    /// <returns>A task that completes when the frame is handled.</returns>
    ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken);

    /// <summary>Called after a connection is established, before its first frame.</summary>
    /// <param name="connection">The new connection; its <see cref="UpstreamConnection.Items"/> bag is empty.</param>
    /// <param name="cancellationToken">Signalled when the gateway stops waiting for the handler.</param>
    /// <returns>A task that completes when the handler is done.</returns>
    ValueTask OnConnectedAsync(UpstreamConnection connection, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Called after a connection ended, after its last frame was handled.</summary>
    /// <param name="connection">The connection that ended.</param>
    /// <param name="reason">Why it ended.</param>
    /// <param name="cancellationToken">Signalled when the gateway stops waiting for the handler.</param>
    /// <returns>A task that completes when the handler is done.</returns>
    ValueTask OnDisconnectedAsync(UpstreamConnection connection, DisconnectReason reason, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
