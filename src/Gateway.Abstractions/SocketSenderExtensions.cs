using System.Text;

namespace Gateway;

/// <summary>Convenience forms of <see cref="ISocketSender"/>.</summary>
public static class SocketSenderExtensions
{
    /// <summary>Sends a text message to the socket with the given name.</summary>
    /// <param name="sender">The sender.</param>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="text">The text to send.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns><see cref="SendStatus.Sent"/> once the message is written, or why it was not.</returns>
    public static ValueTask<SendStatus> SendTextAsync(this ISocketSender sender, string socketName, string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(text);
        return sender.SendAsync(socketName, Encoding.UTF8.GetBytes(text), FrameKind.Text, cancellationToken);
    }

    /// <summary>Sends a text message on the socket a frame came from.</summary>
    /// <param name="sender">The sender.</param>
    /// <param name="frame">The frame to reply to.</param>
    /// <param name="text">The text to send.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns><see cref="SendStatus.Sent"/> once the message is written, or why it was not.</returns>
    public static ValueTask<SendStatus> ReplyAsync(this ISocketSender sender, in Frame frame, string text, CancellationToken cancellationToken = default)
        => SendTextAsync(sender, frame.SocketName, text, cancellationToken);
}
