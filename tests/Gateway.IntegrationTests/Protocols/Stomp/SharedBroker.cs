namespace Gateway.IntegrationTests.Protocols.Stomp;

/// <summary>
/// Tests against the one shared RabbitMQ run one at a time, apart from the rest: one of them
/// restarts the broker, which the others must not see.
/// </summary>
[CollectionDefinition(nameof(SharedBroker), DisableParallelization = true)]
public sealed class SharedBroker;
