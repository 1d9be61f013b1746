using System.Buffers;

namespace Gateway.Host.Protocols.Stomp;

/// <summary>Writes client frames and heart-beats; <see cref="StompFrameWriter"/> does the work, header by header.</summary>
internal static class StompEncoder
{
    /// <summary>Writes a whole client frame: headers in order (escaped except in CONNECT), <c>content-length</c> for a SEND, the body, the NUL.</summary>
    /// <exception cref="ArgumentException">See <see cref="StompFrameWriter"/>: not a client command, a header that cannot be sent, a body on a frame other than SEND.</exception>
    public static void Write(IBufferWriter<byte> writer, StompCommand command, ReadOnlySpan<KeyValuePair<string, string>> headers, ReadOnlySpan<byte> body = default)
    {
        var frame = new StompFrameWriter(writer, command);
        foreach (var (name, value) in headers)
        {
            frame.Header(name, value);
        }

        frame.End(body);
    }

    /// <summary>Writes the heart-beat: a lone EOL between frames.</summary>
    public static void WriteHeartBeat(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.GetSpan(1)[0] = (byte)'\n';
        writer.Advance(1);
    }
}
