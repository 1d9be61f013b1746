namespace Gateway;

/// <summary>Convenience forms of <see cref="ISocketSender"/>.</summary>
public static class SocketSenderExtensions
{
    /// <summary>Sends a text message to the socket with the given name.</summary>
    /// <param name="sender">The sender.</param>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="text">The text to send.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome.</returns>
    public static ValueTask<SendResult> SendTextAsync(this ISocketSender sender, string socketName, string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return sender.SendAsync(socketName, OutboundMessage.Text(text), cancellationToken);
    }

    /// <summary>Sends a binary message to the socket with the given name.</summary>
    /// <param name="sender">The sender.</param>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="bytes">The bytes to send.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome.</returns>
    public static ValueTask<SendResult> SendBinaryAsync(this ISocketSender sender, string socketName, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return sender.SendAsync(socketName, OutboundMessage.Binary(bytes), cancellationToken);
    }

    /// <summary>Sends a message on the socket a frame came from, in one call.</summary>
    /// <param name="sender">The sender.</param>
    /// <param name="frame">The frame to answer.</param>
    /// <param name="message">The reply.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome.</returns>
    public static ValueTask<SendResult> ReplyAsync(this ISocketSender sender, in Frame frame, OutboundMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return sender.SendAsync(frame.SocketName, message, cancellationToken);
    }

    /// <summary>Sends a text message on the socket a frame came from, in one call.</summary>
    /// <param name="sender">The sender.</param>
    /// <param name="frame">The frame to answer.</param>
    /// <param name="text">The reply text.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome.</returns>
    public static ValueTask<SendResult> ReplyAsync(this ISocketSender sender, in Frame frame, string text, CancellationToken cancellationToken = default)
        => ReplyAsync(sender, frame, OutboundMessage.Text(text), cancellationToken);
}
