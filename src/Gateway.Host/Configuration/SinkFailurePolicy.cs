namespace Gateway.Host.Configuration;

/// <summary>What a sink (<c>rabbitmq</c>, <c>redis-stream</c>) does with a frame it could not deliver (<c>OnFailure</c>).</summary>
internal enum SinkFailurePolicy
{
    /// <summary>Deliver it again after a backoff (100 ms doubling to <c>MaxRetryDelay</c>) until the server confirms it; the frame stays unsettled meanwhile, so it may land twice.</summary>
    Retry,

    /// <summary>Settle it as failed at once (the gateway NACKs it upstream where the protocol can).</summary>
    Fail,
}
