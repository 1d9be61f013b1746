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

    /// <summary>Written, and the server confirmed it (STOMP RECEIPT, Phoenix <c>phx_reply</c> "ok"); <see cref="SendResult.Reply"/> holds the reply.</summary>
    Confirmed,

    /// <summary>Written, and the server answered with an error (STOMP ERROR, Phoenix <c>phx_reply</c> "error"); <see cref="SendResult.Reply"/> holds it.</summary>
    Refused,

    /// <summary>Written, but no confirmation came within the socket's <c>ReplyTimeout</c>: it may or may not have been processed.</summary>
    NoReply,

    /// <summary>Written, but the connection ended before the confirmation came: it may or may not have been processed.</summary>
    Lost,

    /// <summary>Rejected: the message does not fit the socket's protocol (headers on a raw socket, a STOMP send without a destination, ...); <see cref="SendResult.Error"/> says why.</summary>
    Invalid,
}

/// <summary>The outcome of a send for one socket.</summary>
/// <param name="SocketName">The socket.</param>
/// <param name="Status">What happened.</param>
public readonly record struct SendResult(string SocketName, SendStatus Status)
{
    /// <summary>The server's reply, for a send the protocol confirms by a reply (<see cref="SendStatus.Confirmed"/>, <see cref="SendStatus.Refused"/>); empty otherwise.</summary>
    /// <remarks>The bytes belong to the caller.</remarks>
    public ReadOnlyMemory<byte> Reply { get; init; }

    /// <summary>Why the message was rejected, for <see cref="SendStatus.Invalid"/>; <see langword="null"/> otherwise.</summary>
    public string? Error { get; init; }

    /// <summary>Whether the gateway took the message (<see cref="SendStatus.Sent"/>, <see cref="SendStatus.Queued"/> or <see cref="SendStatus.Confirmed"/>).</summary>
    public bool IsAccepted => Status is SendStatus.Sent or SendStatus.Queued or SendStatus.Confirmed;
}
