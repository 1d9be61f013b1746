namespace Gateway.Host.Health;

/// <summary>Where a socket is in its life cycle.</summary>
internal enum SocketState
{
    /// <summary>Created; connects once the host has started.</summary>
    Starting,

    /// <summary>Not running: removed, stopped at shutdown, or out of reconnect attempts.</summary>
    Stopped,

    /// <summary>Opening the WebSocket.</summary>
    Connecting,

    /// <summary>Connected, running the protocol handshake.</summary>
    Handshaking,

    /// <summary>Connected and delivering frames.</summary>
    Ready,

    /// <summary>Waiting out the backoff delay before the next attempt.</summary>
    Waiting,

    /// <summary>Closing: the socket was removed or changed, or the host is stopping.</summary>
    Stopping,

    /// <summary>Configured with <c>Enabled: false</c>: listed, never connected, not counted for readiness.</summary>
    Disabled,
}
