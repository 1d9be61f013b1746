using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Configuration;

/// <summary>
/// Checks a bound <see cref="GatewayOptions"/>; every message starts with the full key it is about,
/// e.g. <c>Gateway:Sockets:prices:Url: 'http://x' is not a ws:// or wss:// URL, nor a path on this gateway (/demo/ticks)</c>.
/// </summary>
/// <remarks>
/// Deliberately not an <c>IValidateOptions</c>: a failed validation inside
/// <see cref="IOptionsMonitor{TOptions}"/> would stop reload notifications. The supervisor calls it at
/// start (failing startup) and on every reload (keeping the last good configuration).
/// </remarks>
internal sealed partial class GatewayOptionsValidator(IServiceProviderIsKeyedService keyedServices, Handlers.SinkInstances.Registration? sinkInstances = null)
{
    /// <summary>The limit of timeouts (connect, handshake, reply, keep-alive, heart-beat, shutdown).</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    /// <summary>The limit of intervals and ages (delays, keep-alive and heart-beat intervals, NoMessageTimeout, MaxAge, ResetAfter).</summary>
    public static readonly TimeSpan MaxInterval = TimeSpan.FromDays(1);

    /// <summary>The limit of <c>MaxMessageSize</c>: 256 MiB.</summary>
    public const int MaxMessageSizeLimit = 256 * 1024 * 1024;

    public List<string> GetErrors(GatewayOptions options)
    {
        var errors = new List<string>(options.BindErrors);
        errors.AddRange(sinkInstances?.Errors ?? []);
        Positive(options.ShutdownTimeout, "Gateway", "ShutdownTimeout", errors, MaxTimeout);
        if (options.Cluster is { } cluster)
        {
            ValidateCluster(cluster, errors);
        }

        foreach (var (name, socket) in options.Sockets)
        {
            ValidateSocket($"Gateway:Sockets:{name}", name, socket, errors);
        }

        return errors;
    }

    private static void ValidateStomp(string path, StompOptions stomp, List<string> errors)
    {
        NotNegative(stomp.HeartBeat.Outgoing, path, "HeartBeat:Outgoing", errors, MaxInterval);
        NotNegative(stomp.HeartBeat.Incoming, path, "HeartBeat:Incoming", errors, MaxInterval);

        // CONNECT's headers are not escaped (STOMP 1.2), so a line break cannot be sent in them; the value is never shown.
        foreach (var (name, value) in new[] { ("Host", stomp.Host), ("Login", stomp.Login), ("Passcode", stomp.Passcode) })
        {
            if (value is not null && value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                errors.Add($"{path}:{name}: holds a line break or NUL, which a STOMP CONNECT frame cannot carry (its headers are not escaped)");
            }
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < stomp.Subscriptions.Count; i++)
        {
            var subscription = stomp.Subscriptions[i];
            var key = $"{path}:Subscriptions:{i}";
            if (string.IsNullOrWhiteSpace(subscription.Destination))
            {
                errors.Add($"{key}:Destination: is required");
            }

            if (!ids.Add(subscription.IdAt(i)))
            {
                errors.Add($"{key}:Id: '{subscription.Id}' is used by an earlier subscription");
            }

            if (subscription.StaleAfter is { } stale)
            {
                Positive(stale, key, "StaleAfter", errors, MaxInterval);
            }

            foreach (var (name, value) in subscription.Headers)
            {
                if (name == "content-length")
                {
                    errors.Add($"{key}:Headers:{name}: SUBSCRIBE has no body; the gateway writes content-length itself where there is one");
                }
                else if (name.Contains('\0', StringComparison.Ordinal) || value.Contains('\0', StringComparison.Ordinal))
                {
                    errors.Add($"{key}:Headers:{name}: holds a NUL, which a STOMP header cannot carry");
                }
            }
        }
    }

    private static void ValidatePhoenix(string path, PhoenixOptions phoenix, List<string> errors)
    {
        Positive(phoenix.HeartbeatInterval, path, "HeartbeatInterval", errors, MaxInterval);
        Positive(phoenix.Timeout, path, "Timeout", errors, MaxTimeout);
        for (var i = 0; i < phoenix.RejoinAfter.Count; i++)
        {
            Positive(phoenix.RejoinAfter[i], path, $"RejoinAfter:{i}", errors, MaxInterval);
        }

        var topics = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < phoenix.Topics.Count; i++)
        {
            var key = $"{path}:Topics:{i}";
            var topic = phoenix.Topics[i];
            if (string.IsNullOrWhiteSpace(topic.Topic))
            {
                errors.Add($"{key}:Topic: is required");
            }
            else if (!topics.Add(topic.Topic))
            {
                errors.Add($"{key}:Topic: '{topic.Topic}' is joined by an earlier entry");
            }
            else if (topic.Topic == Protocols.Phoenix.PhoenixEvents.PhoenixTopic)
            {
                errors.Add($"{key}:Topic: 'phoenix' is the socket's own topic (heartbeats)");
            }

            if (topic.Payload is { } payload && !IsJsonObject(payload))
            {
                errors.Add($"{key}:Payload: is not a JSON object");
            }
        }

        static bool IsJsonObject(string json)
        {
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(json);
                return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object;
            }
            catch (System.Text.Json.JsonException)
            {
                return false;
            }
        }
    }

    private static void ValidateHeartbeat(string path, HeartbeatOptions heartbeat, List<string> errors)
    {
        if (heartbeat.Interval is not { } interval)
        {
            // Checked even while the heart-beat is off: a bad value should not wait for an Interval to surface.
            Positive(heartbeat.Timeout, path, "Timeout", errors, MaxTimeout);
            if (heartbeat.Text is not null || heartbeat.Binary is not null || heartbeat.Expect is not null || heartbeat.ExpectPattern is not null)
            {
                errors.Add($"{path}:Interval: is required when the heart-beat has a message or an expected answer");
            }

            return;
        }

        Positive(interval, path, "Interval", errors, MaxInterval);
        Positive(heartbeat.Timeout, path, "Timeout", errors, MaxTimeout);
        if (heartbeat.Text is not null && heartbeat.Binary is not null)
        {
            errors.Add($"{path}: set Text or Binary, not both");
        }

        if (heartbeat.Binary is { } binary && !Convert.TryFromBase64String(binary, new byte[binary.Length], out _))
        {
            errors.Add($"{path}:Binary: '{binary}' is not base64");
        }

        if (heartbeat.Expect is not null && heartbeat.ExpectPattern is not null)
        {
            errors.Add($"{path}: set Expect or ExpectPattern, not both");
        }

        if (heartbeat.Expect is { Length: 0 })
        {
            errors.Add($"{path}:Expect: must not be empty (leave it unset to accept any message)");
        }

        if (heartbeat.ExpectPattern is { } pattern)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{path}:ExpectPattern: '{pattern}' is not a valid regular expression ({ex.Message})");
            }
        }
    }

    private void ValidateSocket(string path, string name, SocketOptions socket, List<string> errors)
    {
        if (!SocketNameRegex().IsMatch(name))
        {
            errors.Add($"{path}: the socket name '{name}' may hold only letters, digits, '_', '-' and '.'");
        }

        if (!socket.Enabled)
        {
            // A disabled socket needs no other key (e.g. disabling the built-in demo from the environment).
            return;
        }

        if (socket.Url is null)
        {
            // A value that did not bind (e.g. port 99999) is reported once, as what it is.
            if (!errors.Exists(e => e.StartsWith($"{path}:Url:", StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add($"{path}:Url: is required");
            }
        }
        else if (socket.Url.IsAbsoluteUri ? socket.Url.Scheme is not ("ws" or "wss") : !socket.Url.OriginalString.StartsWith('/'))
        {
            // Shown without credentials or query values, which may be secrets.
            var hasSecrets = socket.Url.IsAbsoluteUri && (socket.Url.UserInfo.Length > 0 || socket.Url.Query.Length > 1);
            var shown = hasSecrets ? UrlRedaction.ForDisplay(socket.Url).ToString() : socket.Url.OriginalString;
            errors.Add($"{path}:Url: '{shown}' is not a ws:// or wss:// URL, nor a path on this gateway (/demo/ticks)");
        }

        Positive(socket.ConnectTimeout, path, "ConnectTimeout", errors, MaxTimeout);
        NotNegative(socket.KeepAliveInterval, path, "KeepAliveInterval", errors, MaxInterval);
        NotNegative(socket.KeepAliveTimeout, path, "KeepAliveTimeout", errors, MaxTimeout);
        if (socket.NoMessageTimeout is { } noMessage)
        {
            Positive(noMessage, path, "NoMessageTimeout", errors, MaxInterval);
        }

        Positive(socket.HandshakeTimeout, path, "HandshakeTimeout", errors, MaxTimeout);
        Positive(socket.ReplyTimeout, path, "ReplyTimeout", errors, MaxTimeout);
        ValidateHeartbeat($"{path}:Heartbeat", socket.Heartbeat, errors);
        ValidateStomp($"{path}:Stomp", socket.Stomp, errors);
        ValidatePhoenix($"{path}:Phoenix", socket.Phoenix, errors);

        if (socket.MaxMessageSize is < 1 or > MaxMessageSizeLimit)
        {
            errors.Add($"{path}:MaxMessageSize: must be between 1 and {MaxMessageSizeLimit} bytes, was {socket.MaxMessageSize}");
        }

        var reconnect = socket.Reconnect;
        Positive(reconnect.MinDelay, path, "Reconnect:MinDelay", errors, MaxInterval);
        AtMost(reconnect.MaxDelay, path, "Reconnect:MaxDelay", errors, MaxInterval);
        if (reconnect.MaxDelay < reconnect.MinDelay)
        {
            errors.Add($"{path}:Reconnect:MaxDelay: must be at least MinDelay ({reconnect.MinDelay}), was {reconnect.MaxDelay}");
        }

        if (!(reconnect.Factor >= 1 && reconnect.Factor <= 10))
        {
            errors.Add($"{path}:Reconnect:Factor: must be between 1 and 10, was {reconnect.Factor}");
        }

        if (!(reconnect.Jitter >= 0 && reconnect.Jitter <= 1))
        {
            errors.Add($"{path}:Reconnect:Jitter: must be between 0 and 1, was {reconnect.Jitter}");
        }

        if (reconnect.MaxAttempts is < 1)
        {
            errors.Add($"{path}:Reconnect:MaxAttempts: must be 1 or more (or unset for no limit), was {reconnect.MaxAttempts}");
        }

        NotNegative(reconnect.ResetAfter, path, "Reconnect:ResetAfter", errors, MaxInterval);

        if (socket.Queue.Capacity is < 1 or > 1_000_000)
        {
            errors.Add($"{path}:Queue:Capacity: must be between 1 and 1000000, was {socket.Queue.Capacity}");
        }

        if (socket.Queue.MaxInFlight is < 1 or > 65_536)
        {
            errors.Add($"{path}:Queue:MaxInFlight: must be between 1 and 65536, was {socket.Queue.MaxInFlight}");
        }

        Positive(socket.Queue.SettleTimeout, path, "Queue:SettleTimeout", errors, MaxTimeout);

        if (socket.Outbound.Capacity is < 1 or > 1_000_000)
        {
            errors.Add($"{path}:Outbound:Capacity: must be between 1 and 1000000, was {socket.Outbound.Capacity}");
        }

        Positive(socket.Outbound.MaxAge, path, "Outbound:MaxAge", errors, MaxInterval);
        Positive(socket.Outbound.SendTimeout, path, "Outbound:SendTimeout", errors, MaxTimeout);
        if (!keyedServices.IsKeyedService(typeof(Protocols.IProtocol), socket.Protocol))
        {
            errors.Add($"{path}:Protocol: '{socket.Protocol}' is not available in this build");
        }

        if (!keyedServices.IsKeyedService(typeof(IOutboundEncoder), socket.Outbound.Encoder))
        {
            errors.Add($"{path}:Outbound:Encoder: '{socket.Outbound.Encoder}' is not a registered outbound encoder");
        }

        if (!string.IsNullOrEmpty(socket.ConnectHook) && !keyedServices.IsKeyedService(typeof(IConnectHook), socket.ConnectHook))
        {
            errors.Add($"{path}:ConnectHook: '{socket.ConnectHook}' is not a registered connect hook");
        }

        if (socket.Handlers.Count == 0)
        {
            errors.Add($"{path}:Handlers: at least one handler is required, so no frame goes unhandled");
        }

        for (var i = 0; i < socket.Handlers.Count; i++)
        {
            if (!keyedServices.IsKeyedService(typeof(IFrameHandler), socket.Handlers[i]))
            {
                errors.Add($"{path}:Handlers:{i}: '{socket.Handlers[i]}' is not a registered frame handler");
            }
        }

        for (var i = 0; i < socket.Groups.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(socket.Groups[i]))
            {
                errors.Add($"{path}:Groups:{i}: must not be empty");
            }
        }

        for (var i = 0; i < socket.SubProtocols.Count; i++)
        {
            if (!HeaderTokenRegex().IsMatch(socket.SubProtocols[i]))
            {
                errors.Add($"{path}:SubProtocols:{i}: '{socket.SubProtocols[i]}' is not a valid subprotocol token");
            }
        }

        foreach (var (header, value) in socket.Headers)
        {
            if (!HeaderTokenRegex().IsMatch(header))
            {
                errors.Add($"{path}:Headers:{header}: is not a valid header name");
            }
            else if (value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                // Never echo header values: they are often credentials.
                errors.Add($"{path}:Headers:{header}: the value must not contain line breaks");
            }
        }

        for (var i = 0; i < socket.OnConnect.Count; i++)
        {
            var message = socket.OnConnect[i];
            if ((message.Text is null) == (message.Binary is null))
            {
                errors.Add($"{path}:OnConnect:{i}: set exactly one of Text or Binary");
            }
            else if (message.Binary is not null && !IsBase64(message.Binary))
            {
                errors.Add($"{path}:OnConnect:{i}:Binary: is not valid base64");
            }
        }
    }

    private static void ValidateCluster(ClusterOptions cluster, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(cluster.Redis))
        {
            errors.Add("Gateway:Cluster:Redis: is required (a Redis connection string, e.g. redis:6379)");
        }
        else
        {
            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(cluster.Redis);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Gateway:Cluster:Redis: is not a valid Redis connection string ({ex.Message})");
            }
        }

        if (string.IsNullOrEmpty(cluster.Name) || !SocketNameRegex().IsMatch(cluster.Name))
        {
            errors.Add($"Gateway:Cluster:Name: '{cluster.Name}' must be letters, digits, '_', '.' or '-', starting with a letter or digit");
        }

        if (string.IsNullOrEmpty(cluster.ReplicaId) || !SocketNameRegex().IsMatch(cluster.ReplicaId))
        {
            errors.Add($"Gateway:Cluster:ReplicaId: '{cluster.ReplicaId}' must be letters, digits, '_', '.' or '-', starting with a letter or digit");
        }

        if (cluster.LeaseTtl < ClusterOptions.MinLeaseTtl || cluster.LeaseTtl > ClusterOptions.MaxLeaseTtl)
        {
            errors.Add($"Gateway:Cluster:LeaseTtl: must be between {ClusterOptions.MinLeaseTtl} and {ClusterOptions.MaxLeaseTtl}, was {cluster.LeaseTtl}");
        }
    }

    private static bool IsBase64(string value)
        => Convert.TryFromBase64String(value, new byte[value.Length], out _);

    // The key is put together only for an error: the checks run for every socket on every reload.
    private static void Positive(TimeSpan value, string path, string name, List<string> errors, TimeSpan max)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{path}:{name}: must be positive, was {value}");
        }

        AtMost(value, path, name, errors, max);
    }

    private static void NotNegative(TimeSpan value, string path, string name, List<string> errors, TimeSpan max)
    {
        if (value < TimeSpan.Zero)
        {
            errors.Add($"{path}:{name}: must not be negative, was {value}");
        }

        AtMost(value, path, name, errors, max);
    }

    // Timers, delays and cancellations take at most ~49.7 days; the limits keep every key far below
    // that (and the backoff's MaxDelay x (1 + Jitter) far from TimeSpan.MaxValue).
    private static void AtMost(TimeSpan value, string path, string name, List<string> errors, TimeSpan max)
    {
        if (value > max)
        {
            errors.Add($"{path}:{name}: must be at most {max}, was {value}");
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]*\z")]
    private static partial Regex SocketNameRegex();

    // RFC 9110 token.
    [GeneratedRegex(@"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\z")]
    private static partial Regex HeaderTokenRegex();
}
