namespace Gateway;

/// <summary>Sends messages to configured upstream sockets, by name or by group.</summary>
/// <remarks>
/// <para>Thread-safe. Each socket has one bounded outbound queue and one send loop, so messages to a
/// socket are written in the order they were accepted, text and binary alike.</para>
/// <para>Nothing reported <see cref="SendStatus.Sent"/> or <see cref="SendStatus.Queued"/> is lost
/// silently: a queued message that is later dropped (too old, socket removed) is logged and counted.</para>
/// </remarks>
public interface ISocketSender
{
    /// <summary>
    /// Sends to one socket: waits while it is being written if the socket is connected (at most
    /// <c>Outbound:SendTimeout</c>, then <see cref="SendStatus.Queued"/>), else queues or rejects it per the socket's policy.
    /// </summary>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="message">The message; its payload is copied before the call returns.</param>
    /// <param name="cancellationToken">Stops waiting; a message already accepted stays accepted.</param>
    /// <returns><see cref="SendStatus.Sent"/>, <see cref="SendStatus.Queued"/>, or why it was rejected.</returns>
    ValueTask<SendResult> SendAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends to one socket and completes with the protocol's strongest confirmation: written (raw), or the
    /// server's reply (<see cref="SendStatus.Confirmed"/>, <see cref="SendStatus.Refused"/>, with <see cref="SendResult.Reply"/>).
    /// Waits through a reconnect if the message had to be queued, but for its write at most
    /// <c>Outbound:SendTimeout</c> (then <see cref="SendStatus.Queued"/>) and for a reply at most <c>ReplyTimeout</c>
    /// (then <see cref="SendStatus.NoReply"/>; <see cref="SendStatus.Lost"/> if the connection ended first).
    /// </summary>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="message">The message; its payload is copied before the call returns.</param>
    /// <param name="cancellationToken">Withdraws the message if it is still queued, and throws <see cref="OperationCanceledException"/>.</param>
    /// <returns><see cref="SendStatus.Sent"/> or <see cref="SendStatus.Confirmed"/>, <see cref="SendStatus.Queued"/> when the bound passed, or why it was rejected, dropped or not confirmed.</returns>
    ValueTask<SendResult> SendAndWaitAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends several messages to one socket as one unit, all or nothing where the protocol has
    /// transactions (STOMP: BEGIN, the SENDs, COMMIT with a receipt; ABORT if the batch is cut off),
    /// written back to back otherwise (raw). Completes like <see cref="SendAndWaitAsync"/>: with
    /// <see cref="SendStatus.Confirmed"/> when the commit was confirmed, <see cref="SendStatus.Sent"/>
    /// when written (raw). When the connection drops before the commit's confirmation, the broker
    /// discards what was not committed: a batch whose write failed is written again, whole, after the
    /// reconnect; one already written ends <see cref="SendStatus.Lost"/> (committed or not, unknown).
    /// </summary>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="messages">The messages, in order (at least one); payloads are copied before the call returns.</param>
    /// <param name="cancellationToken">Withdraws the batch if it is still queued, or aborts it between two of its messages; throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>One result for the whole batch.</returns>
    ValueTask<SendResult> SendBatchAsync(string socketName, IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>Sends to every socket whose <c>Groups</c> list contains <paramref name="group"/>.</summary>
    /// <param name="group">The group name (case-insensitive).</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>One result per member socket, in name order; empty when the group has no member.</returns>
    ValueTask<IReadOnlyList<SendResult>> PublishAsync(string group, OutboundMessage message, CancellationToken cancellationToken = default);
}
