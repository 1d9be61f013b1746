using CsCheck;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class GatewayOptionsValidatorTests
{
    private const string SocketPath = "Gateway:Sockets:feed";

    // Every key a socket has, a few nested under lists and dictionaries, some misspelt or unknown, some
    // one level too deep or too shallow, in any case.
    private static readonly string[] s_keys =
    [
        "Url", "Enabled", "Required", "Protocol", "ConnectTimeout", "KeepAliveInterval", "KeepAliveTimeout", "NoMessageTimeout",
        "MaxMessageSize", "HandshakeTimeout", "ReplyTimeout", "ConnectHook", "DangerousAcceptAnyServerCertificate", "Compression",
        "Heartbeat:Interval", "Heartbeat:Timeout", "Heartbeat:Text", "Heartbeat:Binary", "Heartbeat:Expect", "Heartbeat:ExpectPattern", "Heartbeat:Deliver",
        "Reconnect:MinDelay", "Reconnect:MaxDelay", "Reconnect:Factor", "Reconnect:Jitter", "Reconnect:MaxAttempts", "Reconnect:ResetAfter",
        "Queue:Capacity", "Queue:FullMode", "Outbound:Capacity", "Outbound:WhileDisconnected", "Outbound:MaxAge", "Outbound:SendTimeout", "Outbound:Encoder",
        "Handlers:0", "Handlers:1", "Groups:0", "SubProtocols:0", "Headers:X-Tenant", "Headers:Authorization", "OnConnect:0:Text", "OnConnect:0:Binary", "OnConnect:1:Text",
        "Reconnect", "Heartbeat", "Handlers", "OnConnect:0", "Url:Host", "Queue:Capacity:Deep", "ConectTimeout", "Queue:Size", "Nope", "",
    ];

    private static readonly string?[] s_values =
    [
        null, "", " ", "0", "1", "-1", "2", "10", "11", "1.5", "NaN", "-0", "2147483648", "268435457", "1e3", "true", "false", "yes", "TRUE",
        "00:00:00", "00:00:00.001", "00:00:01", "-00:00:01", "01:00:00", "01:00:00.001", "1.00:00:00", "1.00:00:01", "60.00:00:00", "10675199.02:48:05.4775807", "99999999.00:00:00", "soon", "24:00:00",
        "Raw", "raw", "Stomp", "Soap", "Wait", "DropOldest", "DropNewest", "DropAll", "Buffer", "Reject", "json", "log", "file", "refresh", "nope",
        "ws://127.0.0.1:1/", "wss://feed.example.com/a?k=v", "ws://", "http://x", "ftp://x/", "not a url", "ws://127.0.0.1:99999/", "ws://user:pw@h/", "aGVsbG8=", "not base64!", "[", "(?<", "\0", "é€😀",
    ];

    private static readonly Gen<(string Key, string? Value)[]> s_settings =
        Gen.Select(Gen.Int[0, s_keys.Length - 1], Gen.Bool, Gen.Int[0, s_values.Length - 1], Gen.String[0, 12])
            .Select((k, upper, v, noise) => (upper ? s_keys[k].ToUpperInvariant() : s_keys[k], s_values[v] ?? (noise.Length > 6 ? noise : null)))
            .Array[0, 12];

    [Fact]
    public void GetErrors_RandomSocketSettings_NeverThrowsAndEveryErrorNamesAKey()
    {
        int accepted = 0, rejected = 0;
        Gen.Select(s_settings, Gen.Bool).Sample((settings, viaDefaults) =>
        {
            // Half the time the settings come from Defaults.
            var prefix = viaDefaults ? "Gateway:Defaults" : SocketPath;
            var pairs = settings.Select(s => KeyValuePair.Create(s.Key.Length == 0 ? prefix : $"{prefix}:{s.Key}", s.Value)).ToList();

            // A valid base the generated settings override (the first value of a key wins below).
            pairs.Add(KeyValuePair.Create($"{SocketPath}:Url", (string?)"ws://127.0.0.1:1/"));
            pairs.Add(KeyValuePair.Create($"{SocketPath}:Handlers:0", (string?)"log"));

            pairs = [.. pairs.DistinctBy(p => p.Key, StringComparer.OrdinalIgnoreCase)]; // keys are case-insensitive: one value each
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(pairs).Build();
            var options = new GatewayOptions();

            new GatewayOptionsSetup(configuration).Configure(options);
            var errors = _validator.GetErrors(options);

            foreach (var error in errors)
            {
                var separator = error.IndexOf(": ", StringComparison.Ordinal);
                Assert.True(separator > 0, $"no key in '{error}'");
                var key = error[..separator];
                Assert.True(
                    key.StartsWith(SocketPath, StringComparison.OrdinalIgnoreCase) || key.StartsWith("Gateway:Defaults", StringComparison.OrdinalIgnoreCase),
                    $"'{error}' names no key of the socket or its defaults ({string.Join(", ", pairs.Select(p => $"{p.Key}={p.Value}"))})");
            }

            Interlocked.Increment(ref errors.Count == 0 ? ref accepted : ref rejected);
            if (errors.Count == 0 && Assert.Single(options.Sockets).Value.Enabled)
            {
                // Accepted and enabled: usable as is. A URL to connect to, and every duration fits a timer.
                // (A disabled socket needs no other key, and is validated whole once a reload enables it.)
                var socket = Assert.Single(options.Sockets).Value;
                Assert.NotNull(socket.Url);
                Assert.True(socket.Url.Scheme is "ws" or "wss", socket.Url.ToString());
                using var timer = new CancellationTokenSource();
                foreach (var duration in new[] { socket.ConnectTimeout, socket.HandshakeTimeout, socket.ReplyTimeout, socket.KeepAliveInterval, socket.KeepAliveTimeout, socket.Reconnect.MinDelay, socket.Reconnect.MaxDelay, socket.Reconnect.ResetAfter, socket.Outbound.MaxAge, socket.Outbound.SendTimeout, socket.NoMessageTimeout ?? TimeSpan.Zero, socket.Heartbeat.Interval ?? TimeSpan.Zero,
                    socket.Heartbeat.Interval is null ? TimeSpan.Zero : socket.Heartbeat.Timeout }) // Heartbeat:Timeout is unused (and unchecked) while the heart-beat is off
                {
                    // CancelAfter throws for a negative or over-long duration (about 49.7 days).
                    Assert.True(duration >= TimeSpan.Zero && duration.TotalMilliseconds <= uint.MaxValue - 1, $"accepted {duration} ({string.Join(", ", pairs.Select(p => $"{p.Key}={p.Value}"))})");
                    timer.CancelAfter(duration);
                }
            }
        }, iter: 3_000);

        // Both sides were exercised, not only one.
        Assert.True(accepted > 20 && rejected > 20, $"accepted {accepted}, rejected {rejected}");
    }
}
