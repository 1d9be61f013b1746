namespace Gateway;

/// <summary>What happened to a message given to <see cref="ISocketSender"/>, for one socket.</summary>
public enum SendStatus
{
    /// <summary>The message was written to the socket.</summary>
    Sent,

    /// <summary>The socket is disconnected; the message waits in its outbound queue and is sent, in order, after the next connect.</summary>
    Queued,

    /// <summary>Rejected: no socket has that name.</summary>
    UnknownSocket,

    /// <summary>Rejected: the socket is not connected and its <c>Outbound:WhileDisconnected</c> policy is <c>Reject</c>.</summary>
    NotConnected,

    /// <summary>Rejected: the socket's outbound queue is full (<c>Outbound:Capacity</c>).</summary>
    QueueFull,

    /// <summary>Rejected: the message is larger than the socket's <c>MaxMessageSize</c>.</summary>
    TooLarge,

    /// <summary>Rejected, or dropped from the queue: the socket is stopping or was removed.</summary>
    Stopped,

    /// <summary>Dropped from the queue: it waited longer than <c>Outbound:MaxAge</c> for a connection.</summary>
    Expired,
}

/// <summary>The outcome of a send for one socket.</summary>
/// <param name="SocketName">The socket.</param>
/// <param name="Status">What happened.</param>
public readonly record struct SendResult(string SocketName, SendStatus Status)
{
    /// <summary>Whether the gateway took the message (<see cref="SendStatus.Sent"/> or <see cref="SendStatus.Queued"/>).</summary>
    public bool IsAccepted => Status is SendStatus.Sent or SendStatus.Queued;
}
