using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Gateway;

/// <summary>
/// The headers a protocol frame carried (STOMP: <c>destination</c>, <c>subscription</c>,
/// <c>message-id</c>, ...); empty for raw frames. A view over the frame's buffer, decoded on
/// demand: like <see cref="Frame.Payload"/>, valid only until the handler call that received the
/// frame completes. Names are case-sensitive; when a name repeats, the first value wins.
/// </summary>
/// <remarks>
/// The block holds one <c>name:value</c> line per header (LF or CRLF), escaped as STOMP 1.2 escapes
/// them (<c>\r \n \c \\</c>), which is how every protocol hands its headers over.
/// </remarks>
public readonly struct FrameHeaders
{
    private readonly ReadOnlyMemory<byte> _block;

    /// <summary>Headers over an escaped <c>name:value</c> line block.</summary>
    public FrameHeaders(ReadOnlyMemory<byte> block) => _block = block;

    /// <summary>Whether there are no headers (a raw frame).</summary>
    public bool IsEmpty => _block.IsEmpty;

    /// <summary>The value of the first header called <paramref name="name"/>, or <see langword="null"/>.</summary>
    public string? this[string name] => TryGetValue(name, out var value) ? value : null;

    /// <summary>Finds the first header called <paramref name="name"/> and decodes its value.</summary>
    public bool TryGetValue(string name, [NotNullWhen(true)] out string? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        Span<byte> encoded = name.Length <= 128 ? stackalloc byte[name.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(name.Length)];
        var wanted = encoded[..Encoding.UTF8.GetBytes(name, encoded)];
        var rest = _block.Span;
        while (NextLine(ref rest, out var line))
        {
            var colon = line.IndexOf((byte)':');
            var lineName = colon > 0 ? line[..colon] : default;
            if (colon > 0 && (lineName.IndexOf((byte)'\\') < 0 ? lineName.SequenceEqual(wanted) : Decode(lineName) == name))
            {
                value = Decode(line[(colon + 1)..]);
                return true;
            }
        }

        value = null;
        return false;
    }

    /// <summary>Every header in order, decoded (repeats included; the first of a name is the one that counts).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToList()
    {
        var list = new List<KeyValuePair<string, string>>();
        var rest = _block.Span;
        while (NextLine(ref rest, out var line))
        {
            var colon = line.IndexOf((byte)':');
            if (colon > 0)
            {
                list.Add(new(Decode(line[..colon]), Decode(line[(colon + 1)..])));
            }
        }

        return list;
    }

    private static bool NextLine(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> line)
    {
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)'\n');
            line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[(end + 1)..];
            if (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            if (!line.IsEmpty)
            {
                return true;
            }
        }

        line = default;
        return false;
    }

    private static string Decode(ReadOnlySpan<byte> escaped)
    {
        if (escaped.IndexOf((byte)'\\') < 0)
        {
            return Encoding.UTF8.GetString(escaped);
        }

        var bytes = new byte[escaped.Length];
        var count = 0;
        for (var i = 0; i < escaped.Length; i++)
        {
            var b = escaped[i];
            if (b == (byte)'\\' && i + 1 < escaped.Length)
            {
                b = escaped[++i] switch
                {
                    (byte)'r' => (byte)'\r',
                    (byte)'n' => (byte)'\n',
                    (byte)'c' => (byte)':',
                    var other => other,
                };
            }

            bytes[count++] = b;
        }

        return Encoding.UTF8.GetString(bytes, 0, count);
    }
}
