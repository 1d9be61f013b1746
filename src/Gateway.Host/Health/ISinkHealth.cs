namespace Gateway.Host.Health;

/// <summary>
/// A sink handler (RabbitMQ, Redis Streams) as health shows it: registered in DI as
/// <see cref="ISinkHealth"/> next to its <see cref="IFrameHandler"/>, listed under <c>sinks</c> in
/// <c>/health/ready</c>; a <see cref="Required"/> sink that is not <see cref="SinkState.Up"/> makes readiness fail.
/// </summary>
internal interface ISinkHealth
{
    /// <summary>The handler name (<c>rabbitmq</c>, <c>redis-stream</c>).</summary>
    string Name { get; }

    /// <summary>Whether <c>/health/ready</c> fails while the sink is not up.</summary>
    bool Required { get; }

    SinkState State { get; }

    /// <summary>The last connection or delivery error, kept after recovery; never holds a password.</summary>
    string? LastError { get; }

    /// <summary>Frames handed to the sink and not yet confirmed or refused.</summary>
    long InFlight { get; }

    /// <summary>Frames the sink confirmed / refused (after retries) since start.</summary>
    long Confirmed { get; }

    long Failed { get; }
}

/// <summary>A sink's connection, as health shows it.</summary>
internal enum SinkState
{
    /// <summary>Not connected yet (no frame needed it, or the first connect is under way).</summary>
    Idle,

    /// <summary>Connected; publishes are confirmed.</summary>
    Up,

    /// <summary>Lost or refused; the client library is reconnecting, and frames wait (Retry) or fail (Fail).</summary>
    Down,
}
