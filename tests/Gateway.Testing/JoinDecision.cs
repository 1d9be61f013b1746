namespace Gateway.Testing;

/// <summary>What a <see cref="PhoenixServer"/> answers to a <c>phx_join</c> on a matched topic.</summary>
public sealed class JoinDecision
{
    private JoinDecision(string? status, string responseJson)
    {
        Status = status;
        ResponseJson = responseJson;
    }

    /// <summary>"ok", "error", or null for no reply at all.</summary>
    public string? Status { get; }

    /// <summary>The reply's <c>response</c> object, as JSON.</summary>
    public string ResponseJson { get; }

    /// <summary>Joined: <c>{"status":"ok","response":response}</c>.</summary>
    public static JoinDecision Ok(string responseJson = "{}") => new("ok", responseJson);

    /// <summary>Refused: <c>{"status":"error","response":response}</c>; no channel is created.</summary>
    public static JoinDecision Error(string responseJson) => new("error", responseJson);

    /// <summary>Refused with <c>{"reason":"unauthorized"}</c>, as a typical channel's <c>join/3</c> does.</summary>
    public static JoinDecision Unauthorized { get; } = Error("""{"reason":"unauthorized"}""");

    /// <summary>Never answered and no channel created (a stuck join, to test the client's join timeout).</summary>
    public static JoinDecision NoReply { get; } = new(null, "{}");
}
