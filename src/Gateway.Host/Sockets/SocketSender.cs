namespace Gateway.Host.Sockets;

/// <summary>Sends through the supervisor's running connections.</summary>
internal sealed class SocketSender(SocketSupervisor supervisor) : ISocketSender
{
    public ValueTask<SendStatus> SendAsync(string socketName, ReadOnlyMemory<byte> payload, FrameKind kind, CancellationToken cancellationToken = default)
        => supervisor.TryGet(socketName, out var connection)
            ? connection.SendAsync(payload, kind, cancellationToken)
            : ValueTask.FromResult(SendStatus.UnknownSocket);
}
