using System.Globalization;
using CsCheck;
using Gateway.Host.Protocols.Phoenix;

namespace Gateway.Host.Tests.Protocols.Phoenix;

/// <summary>CsCheck generators for Phoenix messages: refs, Unicode topics and events, small JSON payloads.</summary>
internal static class PhoenixGen
{
    public static readonly Gen<long> Ref = Gen.Frequency(
        (2, Gen.Const(-1L)),
        (3, Gen.Long[0, 1000]),
        (2, Gen.Long[0, long.MaxValue]),
        (1, Gen.Const(long.MaxValue)));

    // Any Unicode scalar, with what JSON must escape over-represented.
    private static readonly Gen<int> s_codePoint = Gen.Frequency(
        (4, Gen.Int[0x20, 0x7E]),
        (3, Gen.OneOf(Gen.Const((int)'"'), Gen.Const((int)'\\'), Gen.Const((int)'/'), Gen.Const((int)'\n'), Gen.Const(0x7F))),
        (2, Gen.Int[0, 0x1F]),
        (2, Gen.Int[0x80, 0x7FF]),
        (1, Gen.Int[0x800, 0xD7FF]),
        (1, Gen.Int[0xE000, 0xFFFF]),
        (1, Gen.Int[0x10000, 0x10FFFF]));

    public static readonly Gen<string> Text = s_codePoint.Array[0, 12].Select(cps => string.Concat(cps.Select(char.ConvertFromUtf32)));

    public static readonly Gen<string> Topic = Gen.Frequency(
        (3, Text),
        (1, Gen.OneOf(Gen.Const("room:lobby"), Gen.Const(PhoenixEvents.PhoenixTopic), Gen.Const("room:é"))));

    /// <summary>Any event but <c>phx_reply</c>, which a push or broadcast cannot carry.</summary>
    public static readonly Gen<string> Event = Gen.Frequency(
        (3, Text.Where(t => t != PhoenixEvents.Reply)),
        (1, Gen.OneOf(
            Gen.Const(PhoenixEvents.Join), Gen.Const(PhoenixEvents.Leave), Gen.Const(PhoenixEvents.Error), Gen.Const(PhoenixEvents.Close),
            Gen.Const(PhoenixEvents.Heartbeat), Gen.Const(PhoenixEvents.PresenceState), Gen.Const(PhoenixEvents.PresenceDiff))));

    public static readonly Gen<string> Status = Gen.Frequency(
        (3, Gen.OneOf(Gen.Const(PhoenixEvents.StatusOk), Gen.Const(PhoenixEvents.StatusError))),
        (1, Text.Where(t => t.Length > 0)));

    private static readonly Gen<string> s_scalar = Gen.Frequency(
        (1, Gen.OneOf(Gen.Const("null"), Gen.Const("true"), Gen.Const("false"))),
        (2, Gen.Long.Select(n => n.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.Double.Where(double.IsFinite).Select(d => d.ToString("R", CultureInfo.InvariantCulture))),
        (3, Text.Select(PhoenixTestMessages.JsonString)));

    /// <summary>Compact JSON text up to three levels deep.</summary>
    public static readonly Gen<string> Json = JsonValue(3);

    /// <summary>A payload as a server or client sends it: an object (mostly), compact or with whitespace.</summary>
    public static readonly Gen<string> Payload = Gen.Frequency(
        (4, JsonObject(JsonValue(2), ",", ":")),
        (1, JsonObject(JsonValue(1), " ,\n\t", " : ")),
        (2, Json));

    public static readonly Gen<byte[]> Binary = Gen.Frequency((4, Gen.Byte.Array[0, 40]), (1, Gen.Byte.Array[200, 2000]));

    public static readonly Gen<PhoenixModel> Message = Gen.Select(Ref, Ref, Topic, Event, Payload, Binary, (joinRef, @ref, topic, @event, payload, binary) => new PhoenixModel(joinRef, @ref, topic, @event, payload, binary));

    /// <summary>A message whose topic and event fit a binary header (255 bytes each in UTF-8).</summary>
    public static readonly Gen<PhoenixModel> BinaryMessage = Message.Where(m => PhoenixEncoder.FitsBinaryHeader(m.JoinRef, m.Ref, m.Topic, m.Event));

    // Fragments of JSON string bodies, escapes good and bad among them.
    private static readonly Gen<string> s_wildString = Gen.OneOf(
        new[] { "a", "topic", "status", "ok", "phx_reply", "é", "😀", "1", "0", "\\u00e9", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\ud83dx", "\\u0074", "\\\"", "\\\\", "\\n", "\\x", "\\u12" }
            .Select(Gen.Const).ToArray())
        .Array[0, 4].Select(parts => "\"" + string.Concat(parts) + "\"");

    private static readonly Gen<string> s_wildKey = Gen.Frequency(
        (4, Gen.OneOf(new[] { "\"topic\"", "\"event\"", "\"payload\"", "\"ref\"", "\"join_ref\"", "\"status\"", "\"response\"", "\"st\\u0061tus\"", "\"t\\u006fpic\"" }.Select(Gen.Const).ToArray())),
        (2, s_wildString));

    private static readonly Gen<string> s_wildScalar = Gen.Frequency(
        (1, Gen.OneOf(new[] { "null", "true", "1", "-0", "1e400", "\"1\"", "\"007\"", "\"phx_reply\"", "\"ok\"" }.Select(Gen.Const).ToArray())),
        (2, s_wildString));

    /// <summary>Text that is mostly a Phoenix message: the right shape often, with bad escapes, wrong types, wrong arity and odd keys mixed in.</summary>
    public static Gen<string> WildText(PhoenixWireFormat format)
    {
        var value = WildValue(3);
        if (format == PhoenixWireFormat.V1)
        {
            return Gen.Select(s_wildKey, value).Array[0, 7].Select(members => "{" + string.Join(",", members.Select(m => m.Item1 + ":" + m.Item2)) + "}");
        }

        var @event = Gen.Frequency((2, Gen.Const("\"phx_reply\"")), (1, s_wildScalar));
        return Gen.Select(s_wildScalar, s_wildScalar, s_wildScalar, @event, value, value.Array[0, 2], Gen.Int[0, 5])
            .Select((joinRef, @ref, topic, ev, payload, extra, take) => "[" + string.Join(",", new[] { joinRef, @ref, topic, ev, payload }.Take(take).Concat(take == 5 ? extra : [])) + "]");
    }

    private static Gen<string> WildValue(int depth) => depth == 0
        ? s_wildScalar
        : Gen.Frequency(
            (2, s_wildScalar),
            (1, WildValue(depth - 1).Array[0, 3].Select(items => "[" + string.Join(",", items) + "]")),
            (2, Gen.Select(s_wildKey, WildValue(depth - 1)).Array[0, 4].Select(members => "{" + string.Join(",", members.Select(m => m.Item1 + ":" + m.Item2)) + "}")));

    private static Gen<string> JsonValue(int depth) => depth == 0
        ? s_scalar
        : Gen.Frequency(
            (3, s_scalar),
            (1, JsonValue(depth - 1).Array[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
            (1, JsonObject(JsonValue(depth - 1), ",", ":")));

    private static Gen<string> JsonObject(Gen<string> value, string comma, string colon)
        => Gen.Select(Text, value).Array[0, 4].Select(members => "{" + string.Join(comma, members.Select(m => PhoenixTestMessages.JsonString(m.Item1) + colon + m.Item2)) + "}");
}
