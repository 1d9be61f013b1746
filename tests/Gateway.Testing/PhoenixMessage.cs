using System.Text.Json;

namespace Gateway.Testing;

/// <summary>
/// One message a client sent to a <see cref="PhoenixServer"/>, decoded by the kit's own serializer
/// (independent of the gateway's codec, so tests are a differential check).
/// </summary>
public sealed class PhoenixMessage
{
    /// <summary>The join_ref as a string: a JSON string's value, or the raw text of a number; null when JSON null or absent (V1).</summary>
    public string? JoinRef { get; init; }

    /// <summary>The ref as a string, like <see cref="JoinRef"/>.</summary>
    public string? Ref { get; init; }

    public required string Topic { get; init; }

    public required string Event { get; init; }

    /// <summary>The JSON payload; <see cref="JsonValueKind.Undefined"/> for a binary push.</summary>
    public JsonElement Payload { get; init; }

    /// <summary>The payload of a binary (kind 0) push; null for a JSON message.</summary>
    public ReadOnlyMemory<byte>? BinaryPayload { get; init; }

    public bool IsBinary => BinaryPayload is not null;

    /// <summary>When the message arrived (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>).</summary>
    public long Timestamp { get; init; }

    // The refs as they were on the wire (JSON text, "null" when absent), echoed back verbatim as Phoenix
    // does: a client that sends the number 5 gets the number 5 back, not "5".
    internal string JoinRefJson { get; init; } = PhoenixWire.Null;

    internal string RefJson { get; init; } = PhoenixWire.Null;

    public override string ToString() =>
        $"[{JoinRefJson},{RefJson},\"{Topic}\",\"{Event}\",{(BinaryPayload is { } binary ? $"<{binary.Length} bytes>" : Payload.GetRawText())}]";
}
