namespace Gateway.Host.Protocols.Stomp;

/// <summary>The STOMP 1.2 commands; commands are case sensitive on the wire.</summary>
internal enum StompCommand
{
    /// <summary>No command: the value of a default <see cref="StompFrameView"/>.</summary>
    None,

    // Server frames.
    Connected,
    Message,
    Receipt,
    Error,

    // Client frames.
    Connect,
    Stomp,
    Send,
    Subscribe,
    Unsubscribe,
    Begin,
    Commit,
    Abort,
    Ack,
    Nack,
    Disconnect,
}
