namespace Gateway.Host.Configuration;

/// <summary>A STOMP 1.2 socket (<c>Protocol: Stomp</c>): <c>Gateway:Sockets:&lt;name&gt;:Stomp</c>.</summary>
internal sealed class StompOptions
{
    /// <summary>The CONNECT <c>login</c>; never logged.</summary>
    public string? Login { get; set; }

    /// <summary>The CONNECT <c>passcode</c>; never logged.</summary>
    public string? Passcode { get; set; }

    /// <summary>The CONNECT <c>host</c>: the virtual host.</summary>
    /// <value>The default value is <c>/</c> (RabbitMQ's default virtual host).</value>
    public string Host { get; set; } = "/";

    public StompHeartBeatOptions HeartBeat { get; set; } = new();

    public List<StompSubscriptionOptions> Subscriptions { get; set; } = [];

    /// <summary>Where a send without a destination of its own goes.</summary>
    public string? DefaultDestination { get; set; }
}

/// <summary>What the gateway offers in CONNECT's <c>heart-beat</c>; zero: none in that direction.</summary>
internal sealed class StompHeartBeatOptions
{
    /// <summary>How often the gateway can send heart-beats (the first number).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan Outgoing { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the gateway wants the server's heart-beats (the second number).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan Incoming { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class StompSubscriptionOptions
{
    public string? Destination { get; set; }

    /// <summary>The SUBSCRIBE <c>id</c>; unset: <c>sub-</c> and the entry's index (<see cref="IdAt"/>).</summary>
    public string? Id { get; set; }

    /// <summary>The id this entry subscribes with, at <paramref name="index"/> in <c>Subscriptions</c>.</summary>
    public string IdAt(int index) => Id ?? $"sub-{index}";

    public StompAck Ack { get; set; } = StompAck.ClientIndividual;

    /// <summary>Extra SUBSCRIBE headers (<c>prefetch-count</c>, <c>x-stream-offset</c>, ...).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Resubscribe (UNSUBSCRIBE + SUBSCRIBE, same connection) when nothing arrived for this long; unset: never.</summary>
    public TimeSpan? StaleAfter { get; set; }
}

/// <summary>The SUBSCRIBE <c>ack</c> mode (<c>auto</c>, <c>client</c>, <c>client-individual</c>).</summary>
internal enum StompAck
{
    /// <summary>The broker counts a message acknowledged once sent: a crash loses what was in flight.</summary>
    Auto,

    /// <summary>Cumulative: an ACK acknowledges every earlier message of the subscription.</summary>
    Client,

    /// <summary>Each message on its own: ACK after its handlers succeeded, NACK when one failed or it was dropped.</summary>
    ClientIndividual,
}
