namespace Gateway;

/// <summary>One connection attempt as seen by an <see cref="IConnectHook"/>: where to connect and with which headers.</summary>
/// <remarks>A new instance is created for every attempt; the gateway reads it once the hook's task completed.</remarks>
public sealed class ConnectContext
{
    private Uri _url;

    /// <summary>Creates the context of one attempt, with no headers.</summary>
    /// <param name="socketName">The configured socket name.</param>
    /// <param name="attempt">The attempt number (see <see cref="Attempt"/>).</param>
    /// <param name="url">The absolute URL to connect to.</param>
    public ConnectContext(string socketName, int attempt, Uri url)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketName);
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException("The URL must be absolute.", nameof(url));
        }

        SocketName = socketName;
        Attempt = attempt;
        _url = url;
    }

    /// <summary>The configured name of the socket.</summary>
    public string SocketName { get; }

    /// <summary>The attempt number: 0 for the socket's first connect, then 1, 2, ... for the retries in a row since.</summary>
    /// <remarks>
    /// The same number as the socket's <c>reconnectAttempt</c> in health: every failed attempt and every
    /// dropped connection adds one; a connection that stayed up for <c>Reconnect:ResetAfter</c> starts the count again at 1.
    /// </remarks>
    public int Attempt { get; }

    /// <summary>The URL to connect to: the configured one, without credentials.</summary>
    /// <remarks>
    /// The hook may replace it with one that differs only in its query (e.g. a fresh <c>token=</c>
    /// value); any other change (scheme, host, port, path) fails the attempt. Query values are never logged.
    /// </remarks>
    public Uri Url
    {
        get => _url;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _url = value;
        }
    }

    /// <summary>The handshake request headers (names case-insensitive), pre-filled with the socket's configured <c>Headers</c>.</summary>
    /// <remarks>
    /// Add, replace or remove entries; what the collection holds when the hook completes is sent.
    /// A <c>user:password@</c> URL contributes a Basic <c>Authorization</c> entry. Values are never logged.
    /// </remarks>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}
