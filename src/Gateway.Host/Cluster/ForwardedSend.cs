namespace Gateway.Host.Cluster;

/// <summary>What goes over a replica's Redis channel: a send to run there, or the answer to one it forwarded.</summary>
internal sealed record ForwardEnvelope(ForwardedSend? Request = null, ForwardedResult? Result = null);

/// <summary>A send forwarded to the socket's owner: <see cref="Operation"/> is the <see cref="ISocketSender"/> method.</summary>
internal sealed record ForwardedSend(string Id, string From, ForwardedOperation Operation, string Socket, IReadOnlyList<ForwardedMessage> Messages);

/// <summary>A ready-made message (values are encoded by the forwarding replica, with the socket's encoder).</summary>
internal sealed record ForwardedMessage(FrameKind Kind, byte[] Payload, IReadOnlyList<string[]> Headers);

/// <summary>The owner's outcome, as its <see cref="ISocketSender"/> returned it.</summary>
internal sealed record ForwardedResult(string Id, SendStatus Status, byte[]? Reply, string? Error);

internal enum ForwardedOperation
{
    Send,
    SendAndWait,
    Batch,
}
