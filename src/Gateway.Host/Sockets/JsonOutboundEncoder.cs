using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Gateway.Host.Sockets;

/// <summary>The default outbound encoder: strings as text, bytes as binary, anything else as JSON text.</summary>
internal sealed class JsonOutboundEncoder : IOutboundEncoder
{
    public const string Name = "json";

    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web);

    public FrameKind Encode(object value, IBufferWriter<byte> output)
    {
        switch (value)
        {
            case string text:
                Encoding.UTF8.GetBytes(text, output);
                return FrameKind.Text;
            case byte[] bytes:
                output.Write(bytes);
                return FrameKind.Binary;
            case ReadOnlyMemory<byte> memory:
                output.Write(memory.Span);
                return FrameKind.Binary;
            default:
                using (var writer = new Utf8JsonWriter(output))
                {
                    JsonSerializer.Serialize(writer, value, value.GetType(), s_options);
                }

                return FrameKind.Text;
        }
    }
}
