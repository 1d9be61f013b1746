namespace Gateway.Host.Sockets;

/// <summary>Sends through the supervisor's running connections, by name or by group.</summary>
internal sealed class SocketSender(SocketSupervisor supervisor) : ISocketSender
{
    public ValueTask<SendResult> SendAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default)
        => SendCoreAsync(socketName, message, waitForWrite: false, cancellationToken);

    public ValueTask<SendResult> SendAndWaitAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default)
        => SendCoreAsync(socketName, message, waitForWrite: true, cancellationToken);

    public async ValueTask<IReadOnlyList<SendResult>> PublishAsync(string group, OutboundMessage message, CancellationToken cancellationToken = default)
    {
        var members = supervisor.MembersOf(group);
        var sends = new Task<SendStatus>[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            sends[i] = members[i].SendAsync(message, waitForWrite: false, cancellationToken).AsTask();
        }

        await Task.WhenAll(sends).ConfigureAwait(false);
        return [.. members.Select((member, i) => new SendResult(member.Name, sends[i].Result))];
    }

    private async ValueTask<SendResult> SendCoreAsync(string socketName, OutboundMessage message, bool waitForWrite, CancellationToken cancellationToken)
    {
        if (!supervisor.TryGet(socketName, out var connection))
        {
            return new SendResult(socketName, SendStatus.UnknownSocket);
        }

        var status = await connection.SendAsync(message, waitForWrite, cancellationToken).ConfigureAwait(false);
        return new SendResult(connection.Name, status);
    }
}
