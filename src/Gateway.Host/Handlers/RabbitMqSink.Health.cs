using Gateway.Host.Health;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Gateway.Host.Handlers;

/// <summary>The sink as <c>/health/ready</c> shows it; every text here went through <see cref="Redact"/>.</summary>
internal sealed partial class RabbitMqSink
{
    private int _state = (int)SinkState.Idle;
    private string? _lastError;
    private long _inFlight;
    private long _confirmed;
    private long _failed;

    string ISinkHealth.Name => _sinkName;

    public bool Required => _options.Required;

    public SinkState State => (SinkState)Volatile.Read(ref _state);

    public string? LastError => Volatile.Read(ref _lastError);

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long Confirmed => Interlocked.Read(ref _confirmed);

    public long Failed => Interlocked.Read(ref _failed);

    private void Down(string error)
    {
        Volatile.Write(ref _lastError, error);
        Volatile.Write(ref _state, (int)SinkState.Down);
    }

    /// <summary>The URI's password, as written and decoded, to scrub from any text shown or logged.</summary>
    private static string[] SecretsOf(string? uri)
    {
        if (!Uri.TryCreate(uri?.Trim(), UriKind.Absolute, out var parsed))
        {
            // Unparsable: the validator does not echo it, and there is no password to find in anything else.
            return [];
        }

        var colon = parsed.UserInfo.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || colon == parsed.UserInfo.Length - 1)
        {
            return [];
        }

        var raw = parsed.UserInfo[(colon + 1)..];
        return [.. new[] { raw, Uri.UnescapeDataString(raw) }.Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];
    }

    /// <summary>The text without the URI's password, for logs, health and frame errors.</summary>
    private string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }

    private static string Describe(ShutdownEventArgs reason)
        => reason.ReplyCode is 0 or Constants.ReplySuccess && reason.Exception is { } exception
            ? Describe(exception)
            : $"{reason.ReplyCode} {reason.ReplyText}";

    /// <summary>The exception's message with those of its inner exceptions (BrokerUnreachableException says little by itself).</summary>
    private static string Describe(Exception exception)
    {
        var text = exception.Message;
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += " (" + inner.Message + ")";
        }

        return text;
    }
}
