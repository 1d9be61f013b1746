using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Gateway.Host.Handlers;

/// <summary>
/// A sink's name for a frame (the <c>rabbitmq</c> sink's <c>RoutingKey</c>, the <c>redis-stream</c>
/// sink's <c>Key</c>): literal text with <c>{socket}</c>, <c>{destination}</c>, <c>{topic}</c> and
/// <c>{event}</c> (the last three from the frame's headers: STOMP, Phoenix), parsed once and rendered
/// per frame. A header that is absent renders as nothing.
/// </summary>
internal sealed class FrameTemplate
{
    /// <summary>The placeholders, as written in the template.</summary>
    public static readonly IReadOnlyList<string> Placeholders = ["socket", "destination", "topic", "event"];

    // Literal text, or a placeholder (Header: null for {socket}, else the header to read).
    private readonly (string? Literal, string? Header)[] _parts;

    private FrameTemplate((string? Literal, string? Header)[] parts) => _parts = parts;

    /// <summary>UTF-8 bytes of the literal text alone: the least any rendering takes.</summary>
    public int LiteralByteCount => _parts.Sum(p => p.Literal is null ? 0 : Encoding.UTF8.GetByteCount(p.Literal));

    public static FrameTemplate Parse(string template)
        => TryParse(template, out var parsed, out var error) ? parsed : throw new FormatException(error);

    public static bool TryParse(string? template, [NotNullWhen(true)] out FrameTemplate? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        if (string.IsNullOrWhiteSpace(template))
        {
            error = "is empty";
            return false;
        }

        var parts = new List<(string?, string?)>();
        var rest = template.AsSpan();
        while (!rest.IsEmpty)
        {
            var open = rest.IndexOfAny('{', '}');
            if (open < 0)
            {
                parts.Add((rest.ToString(), null));
                break;
            }

            if (open > 0)
            {
                parts.Add((rest[..open].ToString(), null));
            }

            var close = rest[open] == '{' ? rest[(open + 1)..].IndexOf('}') : -1;
            if (close < 0)
            {
                error = $"'{template}' has an unmatched '{rest[open]}'";
                return false;
            }

            var name = rest.Slice(open + 1, close).ToString();
            if (!Placeholders.Contains(name, StringComparer.Ordinal))
            {
                error = $"'{template}' has an unknown placeholder {{{name}}} (known: {string.Join(", ", Placeholders.Select(p => "{" + p + "}"))})";
                return false;
            }

            parts.Add((null, name == "socket" ? null : name));
            rest = rest[(open + close + 2)..];
        }

        parsed = new FrameTemplate([.. parts]);
        error = null;
        return true;
    }

    public string Render(in Frame frame)
    {
        if (_parts.Length == 1)
        {
            return _parts[0].Literal ?? Value(frame, _parts[0].Header);
        }

        var key = new StringBuilder(64);
        foreach (var (literal, header) in _parts)
        {
            key.Append(literal ?? Value(frame, header));
        }

        return key.ToString();
    }

    private static string Value(in Frame frame, string? header)
        => header is null ? frame.SocketName : frame.Headers[header] ?? string.Empty;
}
