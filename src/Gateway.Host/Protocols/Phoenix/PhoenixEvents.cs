namespace Gateway.Host.Protocols.Phoenix;

/// <summary>The reserved event names, reply statuses and socket topic of the Phoenix Channels protocol, as strings and as UTF-8.</summary>
internal static class PhoenixEvents
{
    public const string Join = "phx_join";
    public const string Leave = "phx_leave";
    public const string Reply = "phx_reply";
    public const string Error = "phx_error";
    public const string Close = "phx_close";
    public const string Heartbeat = "heartbeat";
    public const string PresenceState = "presence_state";
    public const string PresenceDiff = "presence_diff";

    /// <summary>The socket-level topic that heartbeats go to.</summary>
    public const string PhoenixTopic = "phoenix";

    /// <summary>The status of a successful reply.</summary>
    public const string StatusOk = "ok";

    /// <summary>The status of a failed reply (a refused join, a handler's error).</summary>
    public const string StatusError = "error";

    public static ReadOnlySpan<byte> JoinUtf8 => "phx_join"u8;

    public static ReadOnlySpan<byte> LeaveUtf8 => "phx_leave"u8;

    public static ReadOnlySpan<byte> ReplyUtf8 => "phx_reply"u8;

    public static ReadOnlySpan<byte> ErrorUtf8 => "phx_error"u8;

    public static ReadOnlySpan<byte> CloseUtf8 => "phx_close"u8;

    public static ReadOnlySpan<byte> HeartbeatUtf8 => "heartbeat"u8;

    public static ReadOnlySpan<byte> PresenceStateUtf8 => "presence_state"u8;

    public static ReadOnlySpan<byte> PresenceDiffUtf8 => "presence_diff"u8;

    public static ReadOnlySpan<byte> PhoenixTopicUtf8 => "phoenix"u8;

    public static ReadOnlySpan<byte> StatusOkUtf8 => "ok"u8;

    public static ReadOnlySpan<byte> StatusErrorUtf8 => "error"u8;
}
