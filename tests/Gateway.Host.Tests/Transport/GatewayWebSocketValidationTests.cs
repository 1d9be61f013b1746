using System.Net.WebSockets;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed class GatewayWebSocketValidationTests
{
    [Theory]
    [InlineData("82 85 01 02 03 04 00 00 00 00 00", "server sent a masked frame; gateway closed with 1002", 1002)]
    [InlineData("C2 00", "server set reserved bits (RSV1); gateway closed with 1002", 1002)]
    [InlineData("B2 00", "server set reserved bits (RSV2, RSV3); gateway closed with 1002", 1002)]
    [InlineData("89 7E 00 C8", "server sent a 200-byte ping frame (control frames are at most 125 bytes); gateway closed with 1002", 1002)]
    [InlineData("09 00", "server sent a fragmented ping frame; gateway closed with 1002", 1002)]
    [InlineData("08 00", "server sent a fragmented close frame; gateway closed with 1002", 1002)]
    [InlineData("83 00", "server sent unknown opcode 0x3; gateway closed with 1002", 1002)]
    [InlineData("8B 00", "server sent unknown opcode 0xB; gateway closed with 1002", 1002)]
    [InlineData("80 00", "server sent a continuation frame with no message to continue; gateway closed with 1002", 1002)]
    [InlineData("01 01 61 81 01 62", "server started a new text message inside a fragmented one; gateway closed with 1002", 1002)]
    [InlineData("02 01 61 82 01 62", "server started a new binary message inside a fragmented one; gateway closed with 1002", 1002)]
    [InlineData("88 01 03", "server sent a close frame with a 1-byte payload; gateway closed with 1002", 1002)]
    [InlineData("88 02 03 E7", "server sent close code 999 (invalid); gateway closed with 1002", 1002)]
    [InlineData("88 02 03 ED", "server sent close code 1005 (invalid); gateway closed with 1002", 1002)]
    [InlineData("88 02 07 D0", "server sent close code 2000 (invalid); gateway closed with 1002", 1002)]
    [InlineData("88 04 03 E8 C3 28", "invalid UTF-8 in the close reason; gateway closed with 1007", 1007)]
    [InlineData("81 02 C3 28", "invalid UTF-8 in a text message; gateway closed with 1007", 1007)]
    [InlineData("01 01 E2 80 02 28 AC", "invalid UTF-8 in a text message; gateway closed with 1007", 1007)]
    [InlineData("01 02 E2 82 80 00", "invalid UTF-8 in a text message; gateway closed with 1007", 1007)]
    [InlineData("82 7F 80 00 00 00 00 00 00 01", "server sent a 64-bit payload length with the top bit set; gateway closed with 1002", 1002)]
    public async Task ReceiveAsync_ProtocolViolation_ClosesWithTheCodeAndSaysWhy(string serverBytes, string message, int code)
    {
        using var stream = new ScriptedStream(Convert.FromHexString(serverBytes.Replace(" ", string.Empty, StringComparison.Ordinal)));
        using var client = new GatewayWebSocket(stream, null);

        var error = await Assert.ThrowsAsync<WebSocketException>(() => DrainAsync(client, bufferSize: 1));

        Assert.Equal(message, error.Message);
        Assert.Equal(WebSocketError.Faulted, error.WebSocketErrorCode);
        Assert.Equal((WebSocketCloseStatus)code, GatewayWebSocketException.Of(error)!.SentCloseStatus);
        var close = Assert.Single(stream.WrittenFrames, f => f.Opcode == 0x8);
        Assert.Equal(code, close.CloseCode);
        Assert.Equal(WebSocketState.Aborted, client.State);
        Assert.False(client.HoldsReceiveBuffer);
        await Assert.ThrowsAsync<WebSocketException>(() => client.ReceiveAsync(new byte[1].AsMemory(), default).AsTask());
    }

    [Fact]
    public async Task ReceiveAsync_CodePointSplitAcrossFragmentsAndReads_IsValid()
    {
        // "€" (E2 82 AC) split across two fragments, read one byte at a time.
        using var stream = new ScriptedStream(Convert.FromHexString("0102E282" + "8001AC"), [1]);
        using var client = new GatewayWebSocket(stream, null);

        var error = await Assert.ThrowsAsync<WebSocketException>(() => DrainAsync(client, bufferSize: 1));

        Assert.Equal("connection closed by the server without a close frame", error.Message);
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, error.WebSocketErrorCode);
        Assert.Empty(stream.Written);
    }

    [Fact]
    public async Task ReceiveAsync_StreamEndsInsideAFrame_SaysSo()
    {
        using var stream = new ScriptedStream(Convert.FromHexString("820461"));
        using var client = new GatewayWebSocket(stream, null);

        var error = await Assert.ThrowsAsync<WebSocketException>(() => DrainAsync(client, bufferSize: 16));

        Assert.Equal("connection closed by the server without a close frame, in the middle of a frame", error.Message);
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, error.WebSocketErrorCode);
        Assert.Equal(WebSocketState.Aborted, client.State);
    }

    [Fact]
    public async Task ReceiveAsync_ViolationAfterOurClose_AbortsWithoutASecondClose()
    {
        using var stream = new ScriptedStream(Convert.FromHexString("830000"));
        using var client = new GatewayWebSocket(stream, null);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", default);

        var error = await Assert.ThrowsAsync<WebSocketException>(() => DrainAsync(client, bufferSize: 16));

        Assert.Equal("server sent unknown opcode 0x3; gateway had already closed with 1000", error.Message);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, GatewayWebSocketException.Of(error)!.SentCloseStatus);
        Assert.Equal(1000, Assert.Single(stream.WrittenFrames).CloseCode);
        Assert.Equal(WebSocketState.Aborted, client.State);
    }

    private static async Task DrainAsync(WebSocket socket, int bufferSize)
    {
        var buffer = new byte[bufferSize];
        while ((await socket.ReceiveAsync(buffer.AsMemory(), default)).MessageType != WebSocketMessageType.Close)
        {
        }
    }
}
