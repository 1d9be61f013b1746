namespace Gateway;

/// <summary>Sends messages to configured upstream sockets.</summary>
/// <remarks>Thread-safe. Messages to one socket are written in the order the calls were made.</remarks>
public interface ISocketSender
{
    /// <summary>Sends one message to the socket with the given name.</summary>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="payload">The message bytes (UTF-8 for text); copied before the call returns only if needed.</param>
    /// <param name="kind">Whether to send a text or a binary message.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns><see cref="SendStatus.Sent"/> once the message is written, or why it was not.</returns>
    ValueTask<SendStatus> SendAsync(string socketName, ReadOnlyMemory<byte> payload, FrameKind kind, CancellationToken cancellationToken = default);
}
