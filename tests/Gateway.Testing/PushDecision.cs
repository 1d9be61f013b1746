namespace Gateway.Testing;

/// <summary>What a <see cref="PhoenixServer"/> channel answers to a client's push (a channel's <c>handle_in/3</c>).</summary>
public sealed class PushDecision
{
    private PushDecision(string? status, string responseJson, byte[]? binaryResponse)
    {
        Status = status;
        ResponseJson = responseJson;
        // Not a plain assignment (nor "x is null ? null : x"): a null byte[], even the literal null, converts
        // to an empty ReadOnlyMemory through its implicit operator, not to a null ReadOnlyMemory?.
        if (binaryResponse is not null)
        {
            BinaryResponse = binaryResponse;
        }
    }

    /// <summary>The reply status ("ok", "error", ...), or null for no reply (<c>{:noreply, socket}</c>).</summary>
    public string? Status { get; }

    /// <summary>The reply's <c>response</c>, as JSON (unused for a binary reply).</summary>
    public string ResponseJson { get; }

    /// <summary>When set, the reply is a binary (kind 1) frame carrying these bytes.</summary>
    public ReadOnlyMemory<byte>? BinaryResponse { get; }

    /// <summary><c>{:reply, {:ok, response}, socket}</c>.</summary>
    public static PushDecision Ok(string responseJson = "{}") => new("ok", responseJson, null);

    /// <summary><c>{:reply, {:error, response}, socket}</c>.</summary>
    public static PushDecision Error(string responseJson = "{}") => new("error", responseJson, null);

    /// <summary>A reply with any status.</summary>
    public static PushDecision Reply(string status, string responseJson = "{}") => new(status, responseJson, null);

    /// <summary><c>{:reply, {status, {:binary, data}}, socket}</c>: a kind 1 frame on V2 (a V1 socket's channel crashes instead, as in Phoenix).</summary>
    public static PushDecision BinaryReply(string status, byte[] response) => new(status, "{}", response);

    /// <summary><c>{:noreply, socket}</c>: nothing is sent, so the client's push times out.</summary>
    public static PushDecision NoReply { get; } = new(null, "{}", null);
}
