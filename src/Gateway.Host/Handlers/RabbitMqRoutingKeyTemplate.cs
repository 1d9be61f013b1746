using System.Text;

namespace Gateway.Host.Handlers;

/// <summary>
/// The <c>rabbitmq</c> sink's <c>RoutingKey</c>, parsed once: literal text with <c>{socket}</c>,
/// <c>{destination}</c>, <c>{topic}</c> and <c>{event}</c> placeholders, filled per frame.
/// </summary>
internal sealed class RabbitMqRoutingKeyTemplate
{
    /// <summary>AMQP routing keys are short strings: at most 255 bytes of UTF-8.</summary>
    public const int MaxBytes = 255;

    public const string Placeholders = "{socket}, {destination}, {topic}, {event}";

    // A literal part, or a placeholder (Literal is null) naming the frame header it reads (null for the socket name).
    private readonly (string? Literal, string? Header)[] _parts;
    private readonly bool _usesHeaders;

    private RabbitMqRoutingKeyTemplate((string? Literal, string? Header)[] parts)
    {
        _parts = parts;
        _usesHeaders = parts.Any(p => p is { Literal: null, Header: not null });
    }

    public static bool TryParse(string? template, out RabbitMqRoutingKeyTemplate parsed, out string? error)
    {
        parsed = new RabbitMqRoutingKeyTemplate([]);
        if (string.IsNullOrWhiteSpace(template))
        {
            error = "is required (e.g. {socket}, or a queue name for the default exchange)";
            return false;
        }

        var parts = new List<(string?, string?)>();
        var literal = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '}')
            {
                error = $"'{template}' has a '}}' without its '{{' at {i}; placeholders are {Placeholders}";
                return false;
            }

            if (c != '{')
            {
                literal.Append(c);
                continue;
            }

            var end = template.IndexOf('}', i + 1);
            if (end < 0)
            {
                error = $"'{template}' has a '{{' without its '}}' at {i}; placeholders are {Placeholders}";
                return false;
            }

            var name = template[(i + 1)..end];
            string? header;
            switch (name)
            {
                case "socket":
                    header = null;
                    break;
                case "destination" or "topic" or "event":
                    header = name;
                    break;
                default:
                    error = $"'{template}' has an unknown placeholder '{{{name}}}'; placeholders are {Placeholders}";
                    return false;
            }

            if (literal.Length > 0)
            {
                parts.Add((literal.ToString(), null));
                literal.Clear();
            }

            parts.Add((null, header));
            i = end;
        }

        if (literal.Length > 0)
        {
            parts.Add((literal.ToString(), null));
        }

        var fixedBytes = parts.Sum(p => p.Item1 is { } text ? Encoding.UTF8.GetByteCount(text) : 0);
        if (fixedBytes > MaxBytes)
        {
            error = $"its literal text is {fixedBytes} bytes of UTF-8; a routing key holds at most {MaxBytes}";
            return false;
        }

        parsed = new RabbitMqRoutingKeyTemplate([.. parts]);
        error = null;
        return true;
    }

    /// <summary>The frame's routing key; headers the frame lacks fill in as empty.</summary>
    /// <remarks>Reads the frame's headers, so call it while the frame is valid (inside <c>HandleAsync</c>).</remarks>
    public string Render(in Frame frame)
    {
        if (_parts.Length == 1 && _parts[0] is { Literal: { } only })
        {
            return only;
        }

        var headers = _usesHeaders ? frame.Headers : default;
        var key = new StringBuilder();
        foreach (var (literal, header) in _parts)
        {
            key.Append(literal ?? (header is null ? frame.SocketName : headers[header]));
        }

        return key.ToString();
    }
}
