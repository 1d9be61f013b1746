using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>
/// One topic's presence list, kept the way phoenix.js's <c>Presence</c> keeps it: <c>presence_state</c>
/// replaces the list; a <c>presence_diff</c> adds the metas of its <c>joins</c> (replacing those with the
/// same <c>phx_ref</c>) and removes those of its <c>leaves</c>, dropping a key left without metas.
/// Diffs that arrive before the state of the channel's current join are held (at most
/// <see cref="MaxPendingDiffs"/>) and applied after it, in order.
/// </summary>
internal sealed class PhoenixPresence
{
    public const int MaxPendingDiffs = 1024;

    private readonly Lock _lock = new();
    private readonly List<JsonObject> _pending = [];
    private JsonObject _state = [];
    private long _stateJoinRef = -1;

    /// <summary>Diffs dropped because too many were held waiting for a state.</summary>
    public long DroppedDiffs { get; private set; }

    /// <summary>Applies a <c>presence_state</c> of the join <paramref name="joinRef"/>; false if the payload is not a presence object.</summary>
    public bool OnState(ReadOnlySpan<byte> payload, long joinRef)
    {
        if (Parse(payload) is not { } state)
        {
            return false;
        }

        lock (_lock)
        {
            _state = state;
            _stateJoinRef = joinRef;
            foreach (var diff in _pending)
            {
                Apply(diff);
            }

            _pending.Clear();
        }

        return true;
    }

    /// <summary>Applies a <c>presence_diff</c>, or holds it while the state of the join <paramref name="joinRef"/> has not arrived.</summary>
    public bool OnDiff(ReadOnlySpan<byte> payload, long joinRef)
    {
        if (Parse(payload) is not { } diff)
        {
            return false;
        }

        lock (_lock)
        {
            if (_stateJoinRef < 0 || _stateJoinRef != joinRef)
            {
                if (_pending.Count == MaxPendingDiffs)
                {
                    _pending.RemoveAt(0);
                    DroppedDiffs++;
                }

                _pending.Add(diff);
                return true;
            }

            Apply(diff);
        }

        return true;
    }

    /// <summary>The list as the API shows it: whether it is in step with the current join, and each key's metas.</summary>
    public JsonObject Snapshot(long currentJoinRef)
    {
        lock (_lock)
        {
            return new JsonObject
            {
                ["synced"] = _stateJoinRef >= 0 && _stateJoinRef == currentJoinRef,
                ["presences"] = _state.DeepClone(),
            };
        }
    }

    private void Apply(JsonObject diff)
    {
        if (diff["joins"] is JsonObject joins)
        {
            foreach (var (key, value) in joins)
            {
                var joined = Metas(value);
                var current = _state[key] is JsonObject existing ? Metas(existing) : [];
                var joinedRefs = joined.Select(PhxRef).ToHashSet(StringComparer.Ordinal);
                var metas = new JsonArray([.. current.Where(m => !joinedRefs.Contains(PhxRef(m))).Select(m => m!.DeepClone()), .. joined.Select(m => m!.DeepClone())]);
                _state[key] = new JsonObject { ["metas"] = metas };
            }
        }

        if (diff["leaves"] is JsonObject leaves)
        {
            foreach (var (key, value) in leaves)
            {
                if (_state[key] is not JsonObject existing)
                {
                    continue;
                }

                var leftRefs = Metas(value).Select(PhxRef).ToHashSet(StringComparer.Ordinal);
                var metas = new JsonArray([.. Metas(existing).Where(m => !leftRefs.Contains(PhxRef(m))).Select(m => m!.DeepClone())]);
                if (metas.Count == 0)
                {
                    _state.Remove(key);
                }
                else
                {
                    _state[key] = new JsonObject { ["metas"] = metas };
                }
            }
        }
    }

    private static List<JsonNode?> Metas(JsonNode? presence)
        => presence is JsonObject { } o && o["metas"] is JsonArray metas ? [.. metas] : [];

    private static string PhxRef(JsonNode? meta)
        => meta is JsonObject o && o["phx_ref"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : string.Empty;

    private static JsonObject? Parse(ReadOnlySpan<byte> payload)
    {
        try
        {
            return JsonNode.Parse(payload) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
