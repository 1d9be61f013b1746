namespace Gateway;

/// <summary>What happened to a message given to <see cref="ISocketSender"/>.</summary>
public enum SendStatus
{
    /// <summary>The message was written to the socket.</summary>
    Sent,

    /// <summary>No socket has that name.</summary>
    UnknownSocket,

    /// <summary>The socket is not connected; nothing was sent.</summary>
    NotConnected,

    /// <summary>The message is larger than the socket's <c>MaxMessageSize</c>; nothing was sent.</summary>
    TooLarge,

    /// <summary>The socket is being stopped; nothing was sent.</summary>
    Stopped,

    /// <summary>The write to the socket failed; the connection is being re-established.</summary>
    Failed,
}
