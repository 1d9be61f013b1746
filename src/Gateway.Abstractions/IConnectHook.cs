namespace Gateway;

/// <summary>Runs before every connection attempt of the sockets whose <c>ConnectHook</c> names it, e.g. to refresh a token.</summary>
/// <remarks>
/// <para>Register implementations with <c>services.AddConnectHook&lt;T&gt;("name")</c> and choose one per
/// socket with <c>ConnectHook</c>; one singleton instance serves every socket, so calls for different
/// sockets may run concurrently. It is called before the first connect and before each reconnect.</para>
/// <para>The hook may change the handshake headers in <see cref="ConnectContext.Headers"/> and the query
/// of <see cref="ConnectContext.Url"/>. An exception, a call that outlasts the socket's
/// <c>ConnectTimeout</c>, or a URL changed in anything but its query fails the attempt like a refused
/// handshake: it is logged, counted and shown in health, and the socket retries after its backoff.</para>
/// <para>Header values and query values set here are never logged.</para>
/// </remarks>
public interface IConnectHook
{
    /// <summary>Prepares one connection attempt.</summary>
    /// <param name="context">The attempt: socket, attempt number, URL and headers, the last two changeable.</param>
    /// <param name="cancellationToken">Signalled when the socket stops or the socket's <c>ConnectTimeout</c> elapses.</param>
    /// <returns>A task that completes when the attempt may proceed.</returns>
    ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken);
}
