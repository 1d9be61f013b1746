namespace Gateway.Host.Configuration;

/// <summary><c>Gateway:Handlers:rabbitmq</c>: where the <c>rabbitmq</c> sink publishes, and what it does when the broker refuses.</summary>
/// <remarks>Checked by <see cref="RabbitMqSinkOptionsValidator"/> when the sink is created; an invalid section fails every frame with the list of problems.</remarks>
internal sealed class RabbitMqSinkOptions
{
    public const string SectionName = "Gateway:Handlers:rabbitmq";

    /// <summary>The broker: <c>amqp://user:pass@host:port/vhost</c> (or <c>amqps://</c>); the password is never logged nor shown in health.</summary>
    /// <value>The default value is <c>amqp://guest:guest@127.0.0.1:5672/</c> (vhost <c>/</c>).</value>
    public string Uri { get; set; } = "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>The exchange every frame is published to; it must exist.</summary>
    /// <value>The default value is <c>""</c>, the default exchange (routing key = queue name).</value>
    public string Exchange { get; set; } = string.Empty;

    /// <summary>
    /// The routing key, with placeholders <c>{socket}</c> (the socket's name) and <c>{destination}</c>,
    /// <c>{topic}</c>, <c>{event}</c> (the frame's STOMP <c>destination</c> or Phoenix <c>topic</c>/<c>event</c>
    /// header; empty when the frame has none).
    /// </summary>
    /// <value>The default value is <c>{socket}</c>.</value>
    public string RoutingKey { get; set; } = "{socket}";

    /// <summary>Whether messages are published persistent (delivery mode 2), so a durable queue keeps them across broker restarts.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Persistent { get; set; } = true;

    /// <summary>What happens to a frame the broker refused, did not confirm, or could not be reached for.</summary>
    /// <value>The default value is <see cref="SinkFailurePolicy.Retry"/>.</value>
    public SinkFailurePolicy OnFailure { get; set; } = SinkFailurePolicy.Retry;

    /// <summary>Whether <c>/health/ready</c> fails while the sink is not connected.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Required { get; set; } = true;

    /// <summary>The longest wait between two attempts of a frame (starting at 100 ms, doubling); also the client's interval between reconnection attempts.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one publish waits for the broker's confirmation before it counts as failed (and is retried or failed).</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan ConfirmTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
