using System.Text;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>
/// Servers that break RFC 6455 after a good upgrade, from a raw TCP peer: the gateway closes with the
/// right code, says what happened in health, the log and the disconnect metric, and reconnects.
/// </summary>
public sealed class ProtocolViolationTests
{
    /// <summary>The case, the close code the gateway must send (0: none), the reason label, and the words (the gateway's own transport).</summary>
    public static TheoryData<string, int, string, string> Cases => new()
    {
        { "invalid-utf8", 1007, "protocol_error", "invalid UTF-8 in a text message; gateway closed with 1007" },
        { "invalid-utf8-split", 1007, "protocol_error", "invalid UTF-8 in a text message; gateway closed with 1007" },
        { "close-code-999", 1002, "protocol_error", "server sent close code 999 (invalid); gateway closed with 1002" },
        { "close-1-byte", 1002, "protocol_error", "server sent a close frame with a 1-byte payload; gateway closed with 1002" },
        { "masked", 1002, "protocol_error", "server sent a masked frame; gateway closed with 1002" },
        { "rsv1", 1002, "protocol_error", "server set reserved bits (RSV1); gateway closed with 1002" },
        { "long-ping", 1002, "protocol_error", "server sent a 200-byte ping frame (control frames are at most 125 bytes); gateway closed with 1002" },
        { "fragmented-ping", 1002, "protocol_error", "server sent a fragmented ping frame; gateway closed with 1002" },
        { "opcode-3", 1002, "protocol_error", "server sent unknown opcode 0x3; gateway closed with 1002" },
        { "lone-continuation", 1002, "protocol_error", "server sent a continuation frame with no message to continue; gateway closed with 1002" },
        { "text-inside-fragmented", 1002, "protocol_error", "server started a new text message inside a fragmented one; gateway closed with 1002" },
        { "server-close-1001", 1001, "server_closed", "server closed with 1001 'restart'" },
        { "no-close-frame", 0, "connection_lost", "connection closed by the server without a close frame" },
    };

    private static byte[] Violation(string kind) => kind switch
    {
        "invalid-utf8" => WsFrame.Build(WsFrame.Text, [0x68, 0x69, 0xC3, 0x28]),
        "invalid-utf8-split" => [.. WsFrame.Build(WsFrame.Text, [0x68, 0xF0, 0x9F], fin: false), .. WsFrame.Build(WsFrame.Continuation, [0x98, 0x41])],
        "close-code-999" => WsFrame.CloseFrame(999),
        "close-1-byte" => WsFrame.Build(WsFrame.Close, [0x03]),
        "masked" => WsFrame.Build(WsFrame.Text, "hi"u8, masked: true),
        "rsv1" => WsFrame.Build(WsFrame.Text, "hi"u8, rsv: 4),
        "long-ping" => WsFrame.Build(WsFrame.Ping, new byte[200]),
        "fragmented-ping" => WsFrame.Build(WsFrame.Ping, "p"u8, fin: false),
        "opcode-3" => WsFrame.Build(3, "x"u8),
        "lone-continuation" => WsFrame.Build(WsFrame.Continuation, "x"u8),
        "text-inside-fragmented" => [.. WsFrame.Build(WsFrame.Text, "a"u8, fin: false), .. WsFrame.TextFrame("b")],
        "server-close-1001" => WsFrame.CloseFrame(1001, "restart"),
        "no-close-frame" => [],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Receive_ServerBreaksTheProtocol_ClosedWithItsCodeSaidInWordsAndReconnected(string kind, int code, string label, string words)
    {
        var clientClose = new TaskCompletionSource<int?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var peer = RawPeer.Start(async s =>
        {
            await s.ReadRequestAsync();
            await s.AnswerUpgradeAsync();
            await s.WriteRawAsync(WsFrame.TextFrame($"good {s.Number}"));
            if (s.Number > 1)
            {
                // The next connection behaves, up to answering the gateway's close when the test ends.
                if (await s.ReadClientFrameAsync(WsFrame.Close) is { } bye)
                {
                    await s.WriteRawAsync(WsFrame.CloseFrame(bye.CloseCode));
                }

                s.Close();
                return;
            }

            await s.WriteRawAsync(Violation(kind));
            if (kind == "no-close-frame")
            {
                s.Close();
                return;
            }

            // The gateway's close frame, if it sends one, then the end of the connection.
            var close = await s.ReadClientFrameAsync(WsFrame.Close);
            clientClose.TrySetResult(close?.CloseCode);
            if (kind == "server-close-1001")
            {
                await s.StayOpenAsync(); // the close handshake is complete; the gateway ends the TCP connection
            }

            s.Close();
        });
        await using var gateway = GatewayTestHost.Create(new TestConfig().Socket("a", peer.Url()));
        using var disconnects = gateway.CollectMetric<long>("gateway.socket.disconnects");
        await gateway.StartAsync();

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Any(f => f.Text == "good 2"), "reconnected after the violation");
        Assert.Equal(["good 1", "good 2"], gateway.Recorder.Frames.Select(f => f.Text));
        if (code != 0)
        {
            Assert.Equal(code, await clientClose.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        var reason = Assert.Single(gateway.Recorder.DisconnectReasons);
        var status = gateway.Status("a");
        if (TestTransport.IsClientWebSocket)
        {
            // The fallback transport reports most violations only as "Aborted": the words come from the gateway's own.
            Assert.NotNull(status.LastDisconnect);
            return;
        }

        Assert.Equal(words, status.LastDisconnect);
        Assert.Equal(label, status.LastDisconnectReason);
        Assert.Equal(code == 0 ? null : code, status.LastCloseStatus);
        Assert.Equal(label == "server_closed" ? "server" : label == "connection_lost" ? "neither" : "gateway", status.LastClosedBy);
        Assert.Contains(gateway.Logs.Gateway(103), e => e.Message.Contains(words, StringComparison.Ordinal) && e.Message.Contains($"reason {label}", StringComparison.Ordinal));
        var measurement = Assert.Single(disconnects.GetMeasurementSnapshot());
        Assert.Equal(label, measurement.Tags["gateway.reason"]);
        Assert.Equal(label == "protocol_error" ? DisconnectKind.ProtocolError : label == "server_closed" ? DisconnectKind.ServerClosed : DisconnectKind.ConnectionLost, reason.Kind);
    }
}
