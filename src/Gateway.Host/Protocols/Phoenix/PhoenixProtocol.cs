using System.Text;
using System.Text.Json;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary><c>Protocol: Phoenix</c>: Phoenix Channels over WebSocket (phoenix.js's protocol, serializer V2 or V1).</summary>
internal sealed class PhoenixProtocol(TimeProvider time, ILoggerFactory loggerFactory) : IProtocol
{
    private const string TokenPrefix = "base64url.bearer.phx.";

    private readonly ILogger _logger = loggerFactory.CreateLogger<PhoenixSession>();

    /// <summary>With an <c>AuthToken</c>, <c>phoenix</c> and the token subprotocol (base64 without padding, as phoenix.js's <c>btoa</c>).</summary>
    public IReadOnlyList<string> SubProtocols(SocketOptions options)
        => options.Phoenix.AuthToken is { Length: > 0 } token
            ? ["phoenix", TokenPrefix + Convert.ToBase64String(Encoding.UTF8.GetBytes(token)).TrimEnd('=')]
            : [];

    /// <summary>The configured query, then the connect params, then <c>vsn</c>, recomputed per attempt.</summary>
    public Uri ConnectUrl(Uri url, SocketOptions options)
    {
        if (!url.IsAbsoluteUri)
        {
            return url;
        }

        var query = new StringBuilder(url.Query.TrimStart('?'));
        foreach (var (name, value) in options.Phoenix.Params)
        {
            Append(query, name, value);
        }

        Append(query, "vsn", options.Phoenix.Serializer == PhoenixSerializer.V1 ? "1.0.0" : "2.0.0");
        return new UriBuilder(url) { Query = query.ToString() }.Uri;

        static void Append(StringBuilder query, string name, string value)
            => query.Append(query.Length > 0 ? "&" : string.Empty).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
    }

    /// <summary>A push needs a <c>topic</c> among the configured ones and an <c>event</c>; a text payload must be JSON; binary needs V2.</summary>
    public string? Validate(in OutboundMessage message, SocketOptions options)
    {
        string? topic = null, @event = null;
        foreach (var (name, value) in message.Headers)
        {
            switch (name)
            {
                case "topic":
                    topic ??= value;
                    break;
                case "event":
                    @event ??= value;
                    break;
                default:
                    return $"a Phoenix push takes the headers 'topic' and 'event' only (got '{name}')";
            }
        }

        if (topic is null || @event is null)
        {
            return "a Phoenix push needs a 'topic' and an 'event' header (HTTP: ?topic=...&event=...)";
        }

        if (!options.Phoenix.Topics.Exists(t => t.Topic == topic))
        {
            return $"topic '{topic}' is not one of the socket's Phoenix:Topics";
        }

        if (@event is PhoenixEvents.Join or PhoenixEvents.Leave or PhoenixEvents.Heartbeat)
        {
            return $"'{@event}' is the gateway's own event";
        }

        if (message.Value is null && message.Kind == FrameKind.Binary)
        {
            return options.Phoenix.Serializer == PhoenixSerializer.V1 ? "binary pushes need Phoenix:Serializer V2"
                : PhoenixEncoder.FitsBinaryHeader(long.MaxValue / 2, long.MaxValue / 2, topic, @event) ? null : "topic or event too long for a binary push (255 bytes each)";
        }

        return message.Value is not null || message.Payload.IsEmpty || IsJson(message.Payload.Span) ? null : "a text push's payload must be JSON";
    }

    private static bool IsJson(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8);
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
        => new PhoenixSession(connection, options, time, _logger);
}
