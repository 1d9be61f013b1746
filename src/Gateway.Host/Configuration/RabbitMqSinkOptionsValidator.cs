using System.Text;
using Gateway.Host.Handlers;

namespace Gateway.Host.Configuration;

/// <summary>
/// Checks a bound <see cref="RabbitMqSinkOptions"/>; every message starts with the full key it is about,
/// e.g. <c>Gateway:Handlers:rabbitmq:Uri: 'http://host/' is not an amqp:// or amqps:// URI</c>.
/// </summary>
/// <remarks>
/// The sink runs it when it is created, rather than an <c>IValidateOptions</c> at startup: a section
/// only the <c>rabbitmq</c> handler reads must not stop a gateway that uses no such handler, and the
/// sink reports the problems where they matter (each frame fails with them, health shows them).
/// </remarks>
internal static class RabbitMqSinkOptionsValidator
{
    /// <param name="section">The section the options came from: the built-in sink's, or a named instance's.</param>
    public static List<string> GetErrors(RabbitMqSinkOptions options, string section = RabbitMqSinkOptions.SectionName)
    {
        var errors = new List<string>();
        var prefix = section + ":";
        ValidateUri(options.Uri, prefix + "Uri", errors);

        if (options.Exchange is null || Encoding.UTF8.GetByteCount(options.Exchange) > Handlers.RabbitMqSink.MaxRoutingKeyBytes)
        {
            errors.Add($"{prefix}Exchange: must be at most {Handlers.RabbitMqSink.MaxRoutingKeyBytes} bytes of UTF-8 (\"\" is the default exchange)");
        }

        if (!Handlers.FrameTemplate.TryParse(options.RoutingKey, out var template, out var templateError))
        {
            errors.Add($"{prefix}RoutingKey: {templateError}");
        }
        else if (template.LiteralByteCount > Handlers.RabbitMqSink.MaxRoutingKeyBytes)
        {
            errors.Add($"{prefix}RoutingKey: must render to at most {Handlers.RabbitMqSink.MaxRoutingKeyBytes} bytes of UTF-8 (an AMQP short string); its text alone has {template.LiteralByteCount}");
        }

        if (!Enum.IsDefined(options.OnFailure))
        {
            errors.Add($"{prefix}OnFailure: '{options.OnFailure}' is neither Retry nor Fail");
        }

        Positive(options.MaxRetryDelay, prefix + "MaxRetryDelay", GatewayOptionsValidator.MaxInterval, errors);
        Positive(options.ConfirmTimeout, prefix + "ConfirmTimeout", GatewayOptionsValidator.MaxTimeout, errors);
        return errors;
    }

    private static void ValidateUri(string? value, string key, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"{key}: is required, e.g. amqp://user:pass@127.0.0.1:5672/vhost");
            return;
        }

        // Not echoed when it does not parse: it may hold a password.
        if (!System.Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri))
        {
            errors.Add($"{key}: is not an absolute URI; expected amqp://user:pass@host:5672/vhost");
            return;
        }

        var shown = UrlRedaction.ForDisplay(uri);
        if (uri.Scheme is not ("amqp" or "amqps"))
        {
            // Without a host, "user:pass@host" parses as scheme "user": only the scheme is safe to show.
            errors.Add(uri.Host.Length > 0
                ? $"{key}: '{shown}' is not an amqp:// or amqps:// URI"
                : $"{key}: a '{uri.Scheme}:' URI is not an amqp:// or amqps:// URI");
        }
        else if (uri.Host.Length == 0)
        {
            errors.Add($"{key}: '{shown}' has no host");
        }
        else if (uri.Segments.Length > 2)
        {
            errors.Add($"{key}: '{shown}' has more than one path segment; the path is the vhost (write a '/' inside it as %2F)");
        }
    }

    private static void Positive(TimeSpan value, string key, TimeSpan max, List<string> errors)
    {
        if (value <= TimeSpan.Zero || value > max)
        {
            errors.Add($"{key}: must be positive and at most {max}, was {value}");
        }
    }
}
