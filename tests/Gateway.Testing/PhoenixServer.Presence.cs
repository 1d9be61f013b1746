using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Gateway.Testing;

// Phoenix.Presence as a client sees it. presence_state is a channel push (the channel's join_ref, ref
// null) of {key: {"metas": [meta, ...]}}; presence_diff is a broadcast ([null, null, topic, ...]) of
// {"joins": {key: {"metas": [...]}}, "leaves": {key: {"metas": [...]}}}. Every meta carries the
// tracker's "phx_ref"; an updated one also "phx_ref_prev", and an update is a diff with the new meta
// in joins and the old one in leaves under the same key.
public sealed partial class PhoenixServer
{
    private readonly Lock _presenceLock = new();
    private readonly Dictionary<string, List<TrackedPresence>> _presences = new(StringComparer.Ordinal);

    /// <summary>
    /// Tracks a presence (<c>Presence.track</c>): adds <paramref name="metaJson"/> (an object) under
    /// <paramref name="key"/> with a new phx_ref, and broadcasts the <c>presence_diff</c> join.
    /// Returns the phx_ref.
    /// </summary>
    public async Task<string> TrackAsync(string topic, string key, string metaJson = "{}")
    {
        var phxRef = NewPhxRef();
        var meta = MetaWithRefs(metaJson, phxRef, previousRef: null);
        lock (_presenceLock)
        {
            Presences(topic).Add(new TrackedPresence(key, phxRef, meta));
        }

        await BroadcastAsync(topic, "presence_diff", Diff([(key, meta)], []));
        return phxRef;
    }

    /// <summary>
    /// Untracks (<c>Presence.untrack</c>) the metas of <paramref name="key"/> (only the one with
    /// <paramref name="phxRef"/> when given), broadcasting a <c>presence_diff</c> leave. Returns how many were removed.
    /// </summary>
    public async Task<int> UntrackAsync(string topic, string key, string? phxRef = null)
    {
        List<TrackedPresence> removed;
        lock (_presenceLock)
        {
            var presences = Presences(topic);
            removed = presences.Where(p => p.Key == key && (phxRef is null || p.PhxRef == phxRef)).ToList();
            presences.RemoveAll(removed.Contains);
        }

        if (removed.Count > 0)
        {
            await BroadcastAsync(topic, "presence_diff", Diff([], removed.Select(p => (p.Key, p.MetaJson)).ToList()));
        }

        return removed.Count;
    }

    /// <summary>
    /// Replaces the meta tracked as <paramref name="phxRef"/> (<c>Presence.update</c>): the new meta gets a
    /// new phx_ref and <c>phx_ref_prev</c>; the diff has it in joins and the old meta in leaves. Returns the new phx_ref.
    /// </summary>
    public async Task<string> UpdatePresenceAsync(string topic, string key, string phxRef, string metaJson)
    {
        var newRef = NewPhxRef();
        var meta = MetaWithRefs(metaJson, newRef, phxRef);
        TrackedPresence old;
        lock (_presenceLock)
        {
            var presences = Presences(topic);
            var index = presences.FindIndex(p => p.Key == key && p.PhxRef == phxRef);
            if (index < 0)
            {
                throw new InvalidOperationException($"No presence {key}/{phxRef} on {topic}.");
            }

            old = presences[index];
            presences[index] = new TrackedPresence(key, newRef, meta);
        }

        await BroadcastAsync(topic, "presence_diff", Diff([(key, meta)], [(key, old.MetaJson)]));
        return newRef;
    }

    /// <summary>The current <c>presence_state</c> payload of <paramref name="topic"/>.</summary>
    public string PresenceStateJson(string topic)
    {
        List<(string Key, string MetaJson)> presences;
        lock (_presenceLock)
        {
            presences = Presences(topic).Select(p => (p.Key, p.MetaJson)).ToList();
        }

        return Write(writer => WriteGrouped(writer, presences));
    }

    private List<TrackedPresence> Presences(string topic)
    {
        if (!_presences.TryGetValue(topic, out var presences))
        {
            presences = [];
            _presences[topic] = presences;
        }

        return presences;
    }

    private static string Diff(List<(string Key, string MetaJson)> joins, List<(string Key, string MetaJson)> leaves) =>
        Write(writer =>
        {
            writer.WriteStartObject();
            writer.WritePropertyName("joins");
            WriteGrouped(writer, joins);
            writer.WritePropertyName("leaves");
            WriteGrouped(writer, leaves);
            writer.WriteEndObject();
        });

    // Phoenix.Presence.group/1: {key: {"metas": [...]}}, metas in tracking order.
    private static void WriteGrouped(Utf8JsonWriter writer, List<(string Key, string MetaJson)> presences)
    {
        writer.WriteStartObject();
        foreach (var group in presences.GroupBy(p => p.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            writer.WritePropertyName(group.Key);
            writer.WriteStartObject();
            writer.WritePropertyName("metas");
            writer.WriteStartArray();
            foreach (var (_, meta) in group)
            {
                writer.WriteRawValue(meta);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static string MetaWithRefs(string metaJson, string phxRef, string? previousRef)
    {
        using var document = JsonDocument.Parse(metaJson);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("A presence meta is a JSON object.", nameof(metaJson));
        }

        return Write(writer =>
        {
            writer.WriteStartObject();
            foreach (var property in document.RootElement.EnumerateObject().Where(p => p.Name is not ("phx_ref" or "phx_ref_prev")))
            {
                property.WriteTo(writer);
            }

            writer.WriteString("phx_ref", phxRef);
            if (previousRef is not null)
            {
                writer.WriteString("phx_ref_prev", previousRef);
            }

            writer.WriteEndObject();
        });
    }

    // Phoenix.Tracker's ref: Base.encode64(:erlang.term_to_binary(:crypto.strong_rand_bytes(8))),
    // so it looks like "g20AAAAI..." (an opaque string to clients).
    private static string NewPhxRef()
    {
        var bytes = new byte[14];
        bytes[0] = 131;
        bytes[1] = 109;
        bytes[5] = 8;
        RandomNumberGenerator.Fill(bytes.AsSpan(6));
        return Convert.ToBase64String(bytes);
    }

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, PhoenixWire.WriterOptions))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private sealed record TrackedPresence(string Key, string PhxRef, string MetaJson);
}
