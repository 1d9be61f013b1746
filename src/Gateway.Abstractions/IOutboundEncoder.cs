using System.Buffers;

namespace Gateway;

/// <summary>Turns values given to <see cref="ISocketSender"/> into frames (Glock's <c>handle_send</c>).</summary>
/// <remarks>
/// Register with <c>services.AddOutboundEncoder&lt;T&gt;("name")</c> and choose per socket with
/// <c>Outbound:Encoder</c>. The built-in <c>json</c> encoder (the default) sends strings as text,
/// byte arrays as binary, and serializes anything else to JSON text. Called concurrently for
/// different sockets.
/// </remarks>
public interface IOutboundEncoder
{
    /// <summary>Writes the encoded message to <paramref name="output"/>.</summary>
    /// <param name="value">The value passed to <see cref="OutboundMessage.Encoded"/>.</param>
    /// <param name="output">Where to write the frame's bytes.</param>
    /// <returns>Whether the bytes are a text or a binary frame.</returns>
    FrameKind Encode(object value, IBufferWriter<byte> output);
}
