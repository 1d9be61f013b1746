namespace Gateway.Host.Configuration;

/// <summary>A Phoenix Channels socket (<c>Protocol: Phoenix</c>): <c>Gateway:Sockets:&lt;name&gt;:Phoenix</c>.</summary>
internal sealed class PhoenixOptions
{
    /// <summary>Connect params, added to the URL's query with <c>vsn</c> on every attempt (a connect hook may change them per attempt).</summary>
    public Dictionary<string, string> Params { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Sent as the <c>base64url.bearer.phx.&lt;token&gt;</c> subprotocol next to <c>phoenix</c>, as phoenix.js 1.7 does; never logged.</summary>
    public string? AuthToken { get; set; }

    /// <summary>The channels to join, in order.</summary>
    public List<PhoenixTopicOptions> Topics { get; set; } = [];

    /// <summary>How often a heartbeat goes out; no reply before the next one means the connection is dead.</summary>
    /// <value>The default value is 30 seconds (phoenix.js).</value>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a join waits for its reply before it is retried on the <see cref="RejoinAfter"/> schedule.</summary>
    /// <value>The default value is 10 seconds (phoenix.js).</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Delays before the 1st, 2nd, ... rejoin of a refused, crashed or closed channel; the last one repeats.</summary>
    /// <value>The default value is 1 s, 2 s, 5 s, then every 10 s (phoenix.js).</value>
    public List<TimeSpan> RejoinAfter { get; set; } = [];

    /// <summary>The wire format: <c>V2</c> (<c>vsn=2.0.0</c>, arrays and binary frames) or <c>V1</c> (<c>vsn=1.0.0</c>, objects).</summary>
    public PhoenixSerializer Serializer { get; set; } = PhoenixSerializer.V2;

    /// <summary>The schedule in force: <see cref="RejoinAfter"/>, or phoenix.js's when unset.</summary>
    public IReadOnlyList<TimeSpan> RejoinSchedule => RejoinAfter.Count > 0 ? RejoinAfter : s_defaultRejoin;

    private static readonly TimeSpan[] s_defaultRejoin = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)];
}

/// <summary>One channel: its topic and the join params.</summary>
internal sealed class PhoenixTopicOptions
{
    /// <summary>The topic, e.g. <c>room:lobby</c>.</summary>
    public string? Topic { get; set; }

    /// <summary>The <c>phx_join</c> payload as JSON text (an object); unset: <c>{}</c>.</summary>
    public string? Payload { get; set; }
}

/// <summary>The Phoenix wire format.</summary>
internal enum PhoenixSerializer
{
    /// <summary><c>vsn=2.0.0</c>: <c>[join_ref, ref, topic, event, payload]</c> arrays and binary frames (Phoenix 1.4+).</summary>
    V2,

    /// <summary><c>vsn=1.0.0</c>: <c>{topic, event, payload, ref, join_ref}</c> objects.</summary>
    V1,
}
