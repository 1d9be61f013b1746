namespace Gateway.Host.Sockets;

/// <summary>Sends through the supervisor's running connections, by name or by group.</summary>
internal sealed class SocketSender(SocketSupervisor supervisor) : ISocketSender
{
    public ValueTask<SendResult> SendAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default)
        => SendCoreAsync(socketName, message, waitForConfirmation: false, cancellationToken);

    public ValueTask<SendResult> SendAndWaitAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default)
        => SendCoreAsync(socketName, message, waitForConfirmation: true, cancellationToken);

    public async ValueTask<SendResult> SendBatchAsync(string socketName, IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (!supervisor.TryGet(socketName, out var connection))
        {
            return new SendResult(socketName, SendStatus.UnknownSocket);
        }

        var outcome = await connection.SendBatchAsync(messages, cancellationToken).ConfigureAwait(false);
        return new SendResult(connection.Name, outcome.Status) { Reply = outcome.Reply, Error = outcome.Error };
    }

    public async ValueTask<IReadOnlyList<SendResult>> PublishAsync(string group, OutboundMessage message, CancellationToken cancellationToken = default)
    {
        var members = supervisor.MembersOf(group);
        var sends = new Task<SendOutcome>[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            sends[i] = members[i].SendAsync(message, waitForConfirmation: false, cancellationToken).AsTask();
        }

        await Task.WhenAll(sends).ConfigureAwait(false);
        return [.. members.Select((member, i) => new SendResult(member.Name, sends[i].Result.Status) { Error = sends[i].Result.Error })];
    }

    private async ValueTask<SendResult> SendCoreAsync(string socketName, OutboundMessage message, bool waitForConfirmation, CancellationToken cancellationToken)
    {
        if (!supervisor.TryGet(socketName, out var connection))
        {
            return new SendResult(socketName, SendStatus.UnknownSocket);
        }

        var outcome = await connection.SendAsync(message, waitForConfirmation, cancellationToken).ConfigureAwait(false);
        return new SendResult(connection.Name, outcome.Status) { Reply = outcome.Reply, Error = outcome.Error };
    }
}
