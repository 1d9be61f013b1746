using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Benchmarks;

/// <summary>The few bits of RFC 6455 the benchmark server needs: the accept key and unmasked server frames.</summary>
internal static class WebSocketWire
{
    public const byte OpText = 0x1;
    public const byte OpBinary = 0x2;
    public const byte OpClose = 0x8;
    public const byte OpPing = 0x9;
    public const byte OpPong = 0xA;

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>base64(SHA1(key + GUID)), as RFC 6455 section 4.2.2 requires.</summary>
    public static string ComputeAccept(string key)
    {
#pragma warning disable CA5350 // SHA-1 is what the WebSocket handshake mandates; it protects nothing here.
        var hash = SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid));
#pragma warning restore CA5350
        return Convert.ToBase64String(hash);
    }

    /// <summary>Length of an unmasked server frame header for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int HeaderLength(long payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    /// <summary>Writes FIN + opcode and the 7-, 16- or 64-bit payload length (no mask); returns the header length.</summary>
    public static int WriteHeader(Span<byte> destination, byte opcode, long payloadLength)
    {
        destination[0] = (byte)(0x80 | opcode);
        if (payloadLength < 126)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }

        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            return 4;
        }

        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        return 10;
    }

    /// <summary>A close frame with status 1000 (normal closure).</summary>
    public static byte[] NormalClose { get; } = [0x80 | OpClose, 2, 0x03, 0xE8];
}

/// <summary>
/// A preallocated run of identical, pre-encoded server frames: sending <c>n</c> frames is one write
/// of the first <c>n * FrameLength</c> bytes.
/// </summary>
internal sealed class FrameChunk
{
    private const int TargetBytes = 256 * 1024;

    public FrameChunk(int payloadSize, bool binary)
    {
        PayloadSize = payloadSize;
        var header = WebSocketWire.HeaderLength(payloadSize);
        FrameLength = header + payloadSize;
        Frames = Math.Max(1, TargetBytes / FrameLength);
        Bytes = new byte[Frames * FrameLength];
        for (var i = 0; i < Frames; i++)
        {
            var frame = Bytes.AsSpan(i * FrameLength, FrameLength);
            WebSocketWire.WriteHeader(frame, binary ? WebSocketWire.OpBinary : WebSocketWire.OpText, payloadSize);
            var payload = frame[header..];

            // ASCII, so the client's UTF-8 validation of text messages passes; the same bytes serve binary.
            for (var j = 0; j < payload.Length; j++)
            {
                payload[j] = (byte)('a' + ((i + j) % 26));
            }
        }
    }

    public int PayloadSize { get; }

    public int FrameLength { get; }

    /// <summary>Frames in <see cref="Bytes"/>.</summary>
    public int Frames { get; }

    public byte[] Bytes { get; }
}
