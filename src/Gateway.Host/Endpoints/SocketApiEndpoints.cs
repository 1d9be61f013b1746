using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using Gateway.Host.Health;
using Gateway.Host.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Gateway.Host.Endpoints;

/// <summary>The socket listing and send API (docs/api.md).</summary>
internal static class SocketApiEndpoints
{
    /// <summary>The JSON shape of every gateway endpoint (health included): camelCase, enums as names, nulls left out.</summary>
    internal static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static void MapSocketApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/sockets", static async (ISocketListing listing, HttpContext context) => Results.Json(await listing.ListAsync(context.RequestAborted).ConfigureAwait(false), JsonOptions));
        endpoints.MapGet("/sockets/{name}", static async (string name, ISocketListing listing, HttpContext context)
            => await listing.GetAsync(name, context.RequestAborted).ConfigureAwait(false) is { } status ? Results.Json(status, JsonOptions) : UnknownSocket(name));

        endpoints.MapGet("/sockets/{name}/topics/{topic}/presence", static (string name, string topic, ISocketDirectory sockets)
            => sockets.TryGetPresence(name, topic, out var presence) switch
            {
                PresenceLookup.Found => Results.Json(new { socket = name, topic, synced = presence!["synced"], presences = presence["presences"] }, JsonOptions),
                PresenceLookup.UnknownSocket => UnknownSocket(name),
                PresenceLookup.UnknownTopic => Results.Json(new { socket = name, topic, error = $"'{topic}' is not one of the socket's Phoenix:Topics" }, statusCode: StatusCodes.Status404NotFound),
                _ => Results.Json(new { socket = name, topic, error = "not connected" }, statusCode: StatusCodes.Status409Conflict),
            });

        var mutating = endpoints.MapGroup(string.Empty).AddEndpointFilter<ApiKeyEndpointFilter>();
        mutating.MapPost("/sockets/{name}/messages", SendAsync);
        mutating.MapPost("/sockets/{name}/batch", SendBatchAsync);
        mutating.MapPost("/groups/{group}/messages", PublishAsync);
        mutating.MapPost("/sockets/{name}/reconnect", ReconnectAsync);
    }

    private static async Task<IResult> SendAsync(string name, HttpRequest request, ISocketDirectory sockets, ISocketSender sender)
    {
        if (!sockets.TryGetSocket(name, out var socket))
        {
            return UnknownSocket(name);
        }

        var (message, problem) = await ReadMessageAsync(request, socket.MaxMessageSize).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        // ?wait=true: answer with the protocol's strongest confirmation (raw: written; STOMP: RECEIPT) and its reply.
        var wait = bool.TryParse(request.Query["wait"], out var w) && w;
        var aborted = request.HttpContext.RequestAborted;
        message = WithQueryHeaders(message, request);
        var result = wait
            ? await sender.SendAndWaitAsync(name, message, aborted).ConfigureAwait(false)
            : await sender.SendAsync(name, message, aborted).ConfigureAwait(false);
        return Answer(result);
    }

    private static IResult Answer(SendResult result)
    {
        var (reply, replyBase64) = DescribeReply(result.Reply);
        return Results.Json(new { socket = result.SocketName, status = result.Status, reply, replyBase64, error = result.Error }, JsonOptions, statusCode: StatusCodeOf(result.Status));
    }

    /// <summary>
    /// A JSON array of messages sent as one batch (STOMP: one transaction), answered once the protocol
    /// confirmed it, like <c>?wait=true</c>. Each element is a string (text), or an object with one of
    /// <c>text</c>, <c>json</c> (any JSON value, sent as its text) or <c>base64</c> (binary), and
    /// optional <c>headers</c>; query parameters are headers of every element.
    /// </summary>
    private static async Task<IResult> SendBatchAsync(string name, HttpRequest request, ISocketDirectory sockets, ISocketSender sender)
    {
        if (!sockets.TryGetSocket(name, out _))
        {
            return UnknownSocket(name);
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !(contentType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || contentType.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            return Results.Json(new { error = "a batch is a JSON array: set Content-Type: application/json" }, statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        List<OutboundMessage> messages;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted).ConfigureAwait(false);
            messages = ReadBatch(document.RootElement, QueryHeaders(request));
        }
        catch (JsonException ex)
        {
            return Results.Json(new { error = $"not a JSON batch: {ex.Message}" }, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (BadHttpRequestException ex)
        {
            return Results.Json(new { error = ex.Message }, statusCode: ex.StatusCode);
        }
        catch (FormatException ex)
        {
            return Results.Json(new { error = $"not a JSON batch: {ex.Message}" }, statusCode: StatusCodes.Status400BadRequest);
        }

        return Answer(await sender.SendBatchAsync(name, messages, request.HttpContext.RequestAborted).ConfigureAwait(false));
    }

    private static List<OutboundMessage> ReadBatch(JsonElement root, List<KeyValuePair<string, string>> common)
    {
        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("expected an array of messages");
        }

        var messages = new List<OutboundMessage>(root.GetArrayLength());
        foreach (var element in root.EnumerateArray())
        {
            var index = messages.Count;
            var message = element.ValueKind switch
            {
                JsonValueKind.String => OutboundMessage.Text(element.GetString()!),
                JsonValueKind.Object => ReadBatchObject(element, index),
                _ => throw new JsonException($"message {index}: expected a string or an object with text, json or base64"),
            };
            foreach (var (key, value) in common)
            {
                message = message.WithHeader(key, value);
            }

            messages.Add(message);
        }

        return messages;
    }

    private static OutboundMessage ReadBatchObject(JsonElement element, int index)
    {
        OutboundMessage? message = null;
        foreach (var property in element.EnumerateObject())
        {
            message = property.Name switch
            {
                "text" when property.Value.ValueKind == JsonValueKind.String => message is null ? OutboundMessage.Text(property.Value.GetString()!) : throw OneBody(index),
                "json" => message is null ? OutboundMessage.Utf8Text(System.Text.Encoding.UTF8.GetBytes(property.Value.GetRawText())) : throw OneBody(index),
                "base64" when property.Value.ValueKind == JsonValueKind.String => message is null ? OutboundMessage.Binary(property.Value.GetBytesFromBase64()) : throw OneBody(index),
                "headers" => message,
                _ => throw new JsonException($"message {index}: unexpected '{property.Name}' (text must be a string, base64 a base64 string)"),
            };
        }

        var result = message ?? throw OneBody(index);
        if (element.TryGetProperty("headers", out var headers))
        {
            if (headers.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException($"message {index}: headers must be an object of strings");
            }

            foreach (var header in headers.EnumerateObject())
            {
                result = result.WithHeader(header.Name, header.Value.ValueKind == JsonValueKind.String ? header.Value.GetString()! : throw new JsonException($"message {index}: header '{header.Name}' must be a string"));
            }
        }

        return result;
    }

    private static JsonException OneBody(int index) => new($"message {index}: give exactly one of text, json or base64");

    /// <summary>Every query parameter but <c>wait</c> is a protocol header of the message (STOMP <c>?destination=/queue/a</c>).</summary>
    private static List<KeyValuePair<string, string>> QueryHeaders(HttpRequest request)
    {
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (key, values) in request.Query)
        {
            if (key.Equals("wait", StringComparison.OrdinalIgnoreCase) || key.Length == 0)
            {
                continue;
            }

            foreach (var value in values)
            {
                headers.Add(new(key, value ?? string.Empty));
            }
        }

        return headers;
    }

    private static OutboundMessage WithQueryHeaders(OutboundMessage message, HttpRequest request)
    {
        foreach (var (key, value) in QueryHeaders(request))
        {
            message = message.WithHeader(key, value);
        }

        return message;
    }

    private static async Task<IResult> PublishAsync(string group, HttpRequest request, ISocketDirectory sockets, ISocketSender sender)
    {
        var members = sockets.Group(group);
        if (members.Count == 0)
        {
            return Results.Json(new { error = $"no socket is in group '{group}'" }, statusCode: StatusCodes.Status404NotFound);
        }

        var (message, problem) = await ReadMessageAsync(request, members.Max(m => m.MaxMessageSize)).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var results = await sender.PublishAsync(group, WithQueryHeaders(message, request), request.HttpContext.RequestAborted).ConfigureAwait(false);
        return Results.Json(new { group, results = results.Select(r => new { socket = r.SocketName, status = r.Status, error = r.Error }) }, JsonOptions, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ReconnectAsync(string name, ISocketDirectory sockets)
    {
        if (!sockets.TryGetSocket(name, out _))
        {
            return UnknownSocket(name);
        }

        return await sockets.ReconnectAsync(name).ConfigureAwait(false)
            ? Results.Json(new { socket = name, status = "reconnecting" }, statusCode: StatusCodes.Status202Accepted)
            : Results.Json(new { socket = name, error = "not connected" }, statusCode: StatusCodes.Status409Conflict);
    }

    /// <summary>A reply as UTF-8 text when it is text, otherwise as base64; nothing when there is none.</summary>
    private static (string? Text, string? Base64) DescribeReply(ReadOnlyMemory<byte> reply)
    {
        if (reply.IsEmpty)
        {
            return (null, null);
        }

        return System.Text.Unicode.Utf8.IsValid(reply.Span) ? (System.Text.Encoding.UTF8.GetString(reply.Span), null) : (null, Convert.ToBase64String(reply.Span));
    }

    internal static int StatusCodeOf(SendStatus status) => status switch
    {
        SendStatus.Sent or SendStatus.Queued => StatusCodes.Status202Accepted,
        SendStatus.Confirmed => StatusCodes.Status200OK,
        SendStatus.UnknownSocket => StatusCodes.Status404NotFound,
        SendStatus.Invalid => StatusCodes.Status400BadRequest,
        SendStatus.NotConnected => StatusCodes.Status409Conflict,
        SendStatus.TooLarge => StatusCodes.Status413PayloadTooLarge,
        SendStatus.Refused or SendStatus.Lost => StatusCodes.Status502BadGateway, // the upstream said no, or went away before it said anything
        SendStatus.NoReply => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status503ServiceUnavailable, // QueueFull, Stopped, Expired: try again later
    };

    /// <summary>The body is the frame: text/* and JSON as text, application/octet-stream as binary.</summary>
    private static async Task<(OutboundMessage Message, IResult? Problem)> ReadMessageAsync(HttpRequest request, int maxMessageSize)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) || contentType.MediaType.Value is not { } mediaType)
        {
            return (default, Results.Json(new { error = "set Content-Type: text/*, application/json or application/octet-stream" }, statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        var isBinary = mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase);
        var isText = mediaType.StartsWith("text/", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
        if (!isBinary && !isText)
        {
            return (default, Results.Json(new { error = $"unsupported Content-Type '{mediaType}'" }, statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        if (isText && contentType.Charset.HasValue && !contentType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            return (default, Results.Json(new { error = "text must be UTF-8" }, statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        if (request.ContentLength > maxMessageSize)
        {
            return (default, TooLarge(maxMessageSize));
        }

        // Read at most one byte past the limit: enough to know it is too large.
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                body.Write(buffer, 0, read);
                if (body.Length > maxMessageSize)
                {
                    return (default, TooLarge(maxMessageSize));
                }
            }
        }
        catch (BadHttpRequestException ex)
        {
            // The server's own request limits (a body over Kestrel's MaxRequestBodySize, a body cut short):
            // the client's fault, answered with the server's status, not logged as an unhandled error.
            return (default, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(maxMessageSize, ex.Message)
                : Results.Json(new { error = ex.Message }, statusCode: ex.StatusCode));
        }

        var bytes = body.ToArray();
        if (isText && !Utf8.IsValid(bytes))
        {
            return (default, Results.Json(new { error = "the body is not valid UTF-8" }, statusCode: StatusCodes.Status400BadRequest));
        }

        return (isText ? OutboundMessage.Utf8Text(bytes) : OutboundMessage.Binary(bytes), null);
    }

    private static IResult TooLarge(int maxMessageSize, string? serverLimit = null)
        => Results.Json(new { status = SendStatus.TooLarge.ToString(), error = serverLimit ?? $"larger than MaxMessageSize ({maxMessageSize} bytes)" }, statusCode: StatusCodes.Status413PayloadTooLarge);

    private static IResult UnknownSocket(string name)
        => Results.Json(new { socket = name, status = SendStatus.UnknownSocket.ToString(), error = $"no socket named '{name}'" }, statusCode: StatusCodes.Status404NotFound);
}
