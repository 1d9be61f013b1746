using System.Net;
using System.Text.Json;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>Upgrade answers that are not a valid 101, from a raw TCP peer: each attempt fails with a reason in health, backs off and retries.</summary>
public sealed class HandshakeFaultTests
{
    /// <summary>The case, the HTTP status health should show (0: none), and what <c>lastError</c> should say.</summary>
    public static TheoryData<string, int, string> Cases => new()
    {
        { "404", 404, "handshake refused with HTTP 404" },
        { "500", 500, "handshake refused with HTTP 500" },
        { "200", 200, "handshake refused with HTTP 200 (an HTTP endpoint, not a WebSocket one)" },
        {
            "wrong-accept", 0, TestTransport.IsClientWebSocket
                ? "'Sec-WebSocket-Accept' header value 'dGhlIHNhbXBsZSBub25jZQ==' is invalid"
                : "handshake failed: Sec-WebSocket-Accept 'dGhlIHNhbXBsZSBub25jZQ==' does not match the key sent"
        },
        {
            "no-upgrade", 0, TestTransport.IsClientWebSocket
                ? "missing the required header 'Upgrade'"
                : "handshake failed: the 101 answer lacks 'Upgrade: websocket' and 'Connection: Upgrade'"
        },
        { "redirect", 301, "handshake refused with HTTP 301 (a redirect to ws://127.0.0.1:1/elsewhere, not followed)" },
        { "garbage", 0, "invalid status line: 'SSH-2.0-OpenSSH_9.6'" },
        { "closed-after-request", 0, "The response ended prematurely" },
        { "never-answers", 0, "no handshake within ConnectTimeout (0.5 s)" },
    };

    private static Task Script(string kind, RawPeerSession s) => kind switch
    {
        "404" => AnswerAsync(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
        "500" => AnswerAsync(s, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"),
        "200" => AnswerAsync(s, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>"),
        "wrong-accept" => AnswerAsync(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", keepOpen: true),
        "no-upgrade" => AnswerWithAcceptAsync(s, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {0}\r\n\r\n"),
        "redirect" => AnswerAsync(s, "HTTP/1.1 301 Moved Permanently\r\nLocation: ws://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n"),
        "garbage" => AnswerAsync(s, "SSH-2.0-OpenSSH_9.6\r\n\u0001\u0002\u0003 not http at all\r\n\r\n"),
        "closed-after-request" => CloseAfterRequestAsync(s),
        "never-answers" => NeverAnswerAsync(s),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static async Task AnswerAsync(RawPeerSession s, string response, bool keepOpen = false)
    {
        await s.ReadRequestAsync();
        await s.WriteRawAsync(response);
        if (!keepOpen)
        {
            s.Close();
        }
    }

    private static async Task AnswerWithAcceptAsync(RawPeerSession s, string template)
    {
        var request = await s.ReadRequestAsync();
        await s.WriteRawAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, WsFrame.AcceptFor(request["Sec-WebSocket-Key"]!)));
    }

    private static async Task CloseAfterRequestAsync(RawPeerSession s)
    {
        await s.ReadRequestAsync();
        s.Close();
    }

    private static async Task NeverAnswerAsync(RawPeerSession s)
    {
        await s.ReadRequestAsync();
        await s.StayOpenAsync();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Connect_MisbehavingHandshake_FailsWithReasonBacksOffAndRetries(string kind, int httpStatus, string error)
    {
        await using var peer = RawPeer.Start(s => Script(kind, s));
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Socket("a", peer.Url(),
            ("ConnectTimeout", "00:00:00.500"), ("Reconnect:MinDelay", "00:00:00.050"), ("Reconnect:MaxDelay", "00:00:00.100")));

        await Eventually.TrueAsync(() => peer.Connections >= 3 && gateway.Logs.Gateway(102).Count >= 2, "three attempts were made");
        var status = gateway.Status("a");
        var socket = JsonDocument.Parse(await gateway.Http.GetStringAsync("/sockets/a")).RootElement;
        using var ready = await gateway.Http.GetAsync("/health/ready");

        // Health says why, with the HTTP status where the server gave one; the same in the log line of each failed attempt.
        Assert.Contains(error, status.LastError, StringComparison.Ordinal);
        Assert.Equal(httpStatus == 0 ? null : httpStatus, status.LastHttpStatus);
        Assert.Contains(error, socket.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(httpStatus == 0 ? JsonValueKind.Undefined : JsonValueKind.Number, socket.TryGetProperty("lastHttpStatus", out var json) ? json.ValueKind : JsonValueKind.Undefined);
        Assert.All(gateway.Logs.Gateway(102), e => Assert.Contains(error, e.Message, StringComparison.Ordinal));

        // It backs off between attempts (event 104 per wait) and never got further than connecting.
        Assert.NotEmpty(gateway.Logs.Gateway(104));
        Assert.Empty(gateway.Logs.Gateway(101));
        Assert.NotEqual(SocketState.Ready, status.State);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Empty(gateway.Recorder.Frames);
        Assert.Equal(0, peer.ScriptFailures);
    }
}
