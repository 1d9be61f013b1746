namespace Gateway.Host.Configuration;

/// <summary>What the <c>rabbitmq</c> sink does with a frame whose publish failed (<c>OnFailure</c>).</summary>
internal enum RabbitMqFailurePolicy
{
    /// <summary>Publish it again after a backoff (100 ms doubling to <c>MaxRetryDelay</c>) until the broker confirms it; the frame stays unsettled meanwhile.</summary>
    Retry,

    /// <summary>Settle it as failed at once (the gateway NACKs it upstream where the protocol can).</summary>
    Fail,
}
