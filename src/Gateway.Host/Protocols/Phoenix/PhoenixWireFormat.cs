namespace Gateway.Host.Protocols.Phoenix;

/// <summary>The Phoenix Channels serializer a socket speaks, chosen by the <c>vsn</c> query parameter on connect.</summary>
internal enum PhoenixWireFormat
{
    /// <summary><c>vsn=2.0.0</c>: text frames are <c>[join_ref, ref, topic, event, payload]</c>; binary frames carry raw payloads.</summary>
    V2,

    /// <summary><c>vsn=1.0.0</c>: text frames are <c>{"topic", "event", "payload", "ref", "join_ref"}</c> objects; no binary frames.</summary>
    V1,
}
