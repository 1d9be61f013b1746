namespace Gateway.Benchmarks;

/// <summary>A contender of the throughput benchmark; the raw+ kinds rebuild the gateway's receive path step by step (<c>--breakdown</c>).</summary>
internal enum ClientKind
{
    /// <summary>ReceiveAsync into one reused buffer until EndOfMessage.</summary>
    Raw,

    /// <summary>As the gateway reads: a zero-byte ReceiveAsync to park, then the payload into a pooled buffer.</summary>
    RawPark,

    /// <summary><see cref="RawPark"/>, then the buffer through a bounded channel to a consumer task, as the dispatcher does.</summary>
    RawParkChannel,

    /// <summary><see cref="RawParkChannel"/> with <c>AllowSynchronousContinuations = true</c>: the consumer runs on the writer's thread when it was waiting.</summary>
    RawParkChannelSync,

    /// <summary>Websocket.Client's <c>WebsocketClient</c> with a <c>MessageReceived</c> subscriber, default message handling (text as a string).</summary>
    WebsocketClient,

    /// <summary>The gateway host with the counting no-op handler.</summary>
    Gateway,
}
