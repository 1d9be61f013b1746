namespace Gateway.Host.Configuration;

/// <summary><c>Gateway:Handlers:redis-stream</c>: the <c>redis-stream</c> sink (one <c>XADD</c> per frame).</summary>
internal sealed class RedisStreamSinkOptions
{
    public const string SectionName = "Gateway:Handlers:redis-stream";

    /// <summary>A StackExchange.Redis configuration string (<c>host:port,password=...,ssl=true,...</c>); the password is never logged or shown.</summary>
    /// <value>The default value is <c>127.0.0.1:6379</c>.</value>
    public string Configuration { get; set; } = "127.0.0.1:6379";

    /// <summary>
    /// The stream key, with placeholders <c>{socket}</c> (the socket name) and <c>{destination}</c>,
    /// <c>{topic}</c>, <c>{event}</c> (the frame's headers of that name; empty when absent).
    /// </summary>
    /// <value>The default value is <c>gateway:{socket}</c>.</value>
    public string Key { get; set; } = "gateway:{socket}";

    /// <summary>Trims each stream to about this many entries (<c>XADD ... MAXLEN ~ N</c>); 0: never trimmed.</summary>
    /// <value>The default value is 1,000,000.</value>
    public long MaxLength { get; set; } = 1_000_000;

    /// <summary>What happens to a frame whose <c>XADD</c> failed (connection lost, timeout, server error).</summary>
    /// <value>The default value is <see cref="SinkFailurePolicy.Retry"/>.</value>
    public SinkFailurePolicy OnFailure { get; set; } = SinkFailurePolicy.Retry;

    /// <summary>Whether <c>/health/ready</c> fails while the sink is in use and Redis is not connected.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Required { get; set; } = true;

    /// <summary>The longest wait between two attempts of one frame under <see cref="SinkFailurePolicy.Retry"/> (100 ms, doubling up to this).</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);
}
