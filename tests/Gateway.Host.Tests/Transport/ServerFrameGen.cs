using System.Text;
using CsCheck;

namespace Gateway.Host.Tests.Transport;

/// <summary>
/// Generators of server frames for the frame layer's property and differential tests: messages in fragments with
/// control frames between, payloads at the length-encoding edges, invalid UTF-8, and protocol violations.
/// </summary>
internal static class ServerFrameGen
{
    public static readonly byte[][] InvalidUtf8 =
    [
        [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80], [0xF8], [0xFF], [0x80], [0xBF], [0xE2, 0x28, 0xA1], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3, 0x28],
    ];

    public static readonly int[] EdgeLengths = [0, 1, 125, 126, 127, 65535, 65536];

    public static readonly Gen<byte[]> ValidText = Gen.Frequency(
            (4, Gen.Int[0x20, 0x7E]), (2, Gen.Int[0x80, 0x7FF]), (2, Gen.Int[0x800, 0xD7FF]), (1, Gen.Int[0xE000, 0xFFFD]), (2, Gen.Int[0x10000, 0x10FFFF]))
        .Array[0, 40]
        .Select(codePoints => Encoding.UTF8.GetBytes(string.Concat(codePoints.Select(char.ConvertFromUtf32))));

    public static readonly Gen<byte[]> TextPayload = Gen.Frequency(
        (6, ValidText),
        (3, Gen.Select(ValidText, Gen.Int[0, InvalidUtf8.Length - 1], ValidText, (a, bad, b) => (byte[])[.. a, .. InvalidUtf8[bad], .. b])),
        (1, Gen.OneOf(EdgeLengths.Select(Gen.Const).ToArray()).Select(n => Enumerable.Repeat((byte)'a', n).ToArray())));

    public static readonly Gen<byte[]> BinaryPayload = Gen.Frequency(
        (5, Gen.Int[0, 200].SelectMany(n => Gen.Byte.Array[n])),
        (2, Gen.OneOf(EdgeLengths.Select(Gen.Const).ToArray()).Select(GatewayWebSocketTests.Payload)));

    // Mostly the minimal length form; sometimes the 16- or 64-bit form for a length that fits a shorter one.
    public static readonly Gen<int> LengthForm = Gen.Frequency((8, Gen.Const(0)), (1, Gen.Const(16)), (1, Gen.Const(64)));

    public static readonly Gen<byte[]> ControlPayload = Gen.Frequency(
        (4, Gen.Int[0, 125].SelectMany(n => Gen.Byte.Array[n])),
        (1, Gen.OneOf(Gen.Const(0), Gen.Const(1), Gen.Const(125)).SelectMany(n => Gen.Byte.Array[n])));

    public static readonly Gen<ServerFrame> PingPong = Gen.Select(Gen.Bool, ControlPayload, LengthForm, (ping, payload, form) => new ServerFrame((byte)(ping ? 0x89 : 0x8A), payload, LengthForm: form));

    // A text or binary message in 1-5 fragments cut anywhere (inside a code point too: an invalid sequence split
    // across fragments, or a valid one), 0-2 pings and pongs in each gap, and sometimes an empty fragment.
    public static readonly Gen<ServerFrame[]> Message = Gen.Select(
        Gen.Bool.SelectMany(text => (text ? TextPayload : BinaryPayload).Select(p => (text, p))),
        Gen.Int[0, int.MaxValue].Array[4],
        Gen.Int[1, 5],
        PingPong.Array[0, 2].Array[4],
        LengthForm.Array[5],
        (message, cuts, fragments, controls, forms) =>
        {
            var (text, payload) = message;
            var points = cuts.Take(fragments - 1).Select(c => c % (payload.Length + 1)).Order().Prepend(0).Append(payload.Length).ToArray();
            var frames = new List<ServerFrame>();
            for (var i = 0; i + 1 < points.Length; i++)
            {
                var opcode = i == 0 ? (text ? 0x1 : 0x2) : 0x0;
                var fin = i + 2 == points.Length ? 0x80 : 0;
                frames.Add(new ServerFrame((byte)(fin | opcode), payload[points[i]..points[i + 1]], LengthForm: payload.Length <= ushort.MaxValue ? forms[i] : 0));
                if (fin == 0)
                {
                    frames.AddRange(controls[i]);
                }
            }

            return frames.ToArray();
        });

    // A text message whose last non-empty fragment ends inside a code point (cut from a valid or an invalid one),
    // closed by an empty final fragment, a ping between or not.
    public static readonly Gen<ServerFrame[]> EmptyFinalFragment = Gen.Select(
        ValidText,
        Gen.OneOf(new byte[][] { [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3], [0xE0, 0x80], [0xED], [0xF4, 0x8F, 0xBF], [0xE2, 0x82, 0xAC] }.Select(Gen.Const).ToArray()),
        Gen.Bool,
        (text, tail, ping) => ping
            ? new[] { new ServerFrame(0x01, [.. text, .. tail]), new ServerFrame(0x89, [1, 2]), new ServerFrame(0x80, []) }
            : [new ServerFrame(0x01, [.. text, .. tail]), new ServerFrame(0x80, [])]);

    public static readonly Gen<ServerFrame[]> Violation = Gen.OneOf(
        // RSV1-3 without an extension, on a data, continuation or control frame.
        Gen.Select(Gen.Int[1, 7], Gen.OneOf(Gen.Const(0x82), Gen.Const(0x81), Gen.Const(0x89)), (rsv, first) => new[] { new ServerFrame((byte)(first | (rsv << 4)), [0x61, 0x62]) }),
        Gen.Int[1, 7].Select(rsv => new[] { new ServerFrame(0x01, [0x61]), new ServerFrame((byte)(0x80 | (rsv << 4)), [0x62]) }),
        // Masked server frames (data and control).
        Gen.Select(Gen.OneOf(Gen.Const(0x82), Gen.Const(0x81), Gen.Const(0x89), Gen.Const(0x88)), Gen.Byte.Array[0, 10], (first, p) => new[] { new ServerFrame((byte)first, first == 0x88 ? [0x03, 0xE8] : first == 0x81 ? [0x61] : p, Masked: true) }),
        // Unknown opcodes, data (3-7) and control (B-F), with and without FIN.
        Gen.Select(Gen.OneOf(new[] { 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF }.Select(Gen.Const).ToArray()), Gen.Bool, (op, fin) => new[] { new ServerFrame((byte)((fin ? 0x80 : 0) | op), [1]) }),
        // Control frames over 125 bytes, in the 16- and the 64-bit length form.
        Gen.Select(Gen.OneOf(Gen.Const(0x88), Gen.Const(0x89), Gen.Const(0x8A)), Gen.Frequency((3, Gen.Int[126, 300]), (1, Gen.Const(65536))), (op, n) => new[] { new ServerFrame((byte)op, new byte[n]) }),
        // Fragmented control frames, alone or inside a fragmented message.
        Gen.Select(Gen.OneOf(Gen.Const(0x08), Gen.Const(0x09), Gen.Const(0x0A)), Gen.Bool, (op, inside) => inside
            ? new[] { new ServerFrame(0x01, [0x61]), new ServerFrame((byte)op, op == 0x08 ? [0x03, 0xE8] : []), new ServerFrame(0x80, [0x62]) }
            : [new ServerFrame((byte)op, op == 0x08 ? [0x03, 0xE8] : [])]),
        // A continuation with no message to continue.
        Gen.Bool.Select(fin => new[] { new ServerFrame((byte)(fin ? 0x80 : 0x00), [1]) }),
        // A new data frame while a fragmented message is open (a ping in between or not).
        Gen.Select(Gen.OneOf(Gen.Const(0x1), Gen.Const(0x2)), Gen.OneOf(Gen.Const(0x81), Gen.Const(0x82), Gen.Const(0x01), Gen.Const(0x02)), Gen.Bool, (first, second, ping) => ping
            ? new[] { new ServerFrame((byte)first, [0x61]), new ServerFrame(0x89, [7]), new ServerFrame((byte)second, [0x62]) }
            : [new ServerFrame((byte)first, [0x61]), new ServerFrame((byte)second, [0x62])]),
        // A 64-bit length with the top bit set.
        Gen.Const(new[] { new ServerFrame(0x82, [], TopBitLength: true) }));
}
