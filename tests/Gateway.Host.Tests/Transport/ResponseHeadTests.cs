using System.Net.Http;
using System.Text;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed class ResponseHeadTests
{
    private static ResponseHead Parse(string head) => ResponseHead.Parse(Encoding.Latin1.GetBytes(head));

    [Fact]
    public void Parse_101_JoinsRepeatedHeadersAndIgnoresCaseAndWhitespace()
    {
        var head = Parse("HTTP/1.1 101 Switching Protocols\r\nupgrade:websocket\r\nCONNECTION: keep-alive\r\nConnection:  Upgrade \r\nSec-WebSocket-Accept: abc=\r\nSec-WebSocket-Protocol: v1.stomp\r\nSec-WebSocket-Extensions: permessage-deflate\r\nsec-websocket-extensions: x-other\r\nX-Ignored: 1\r\n\r\n");

        Assert.Equal(101, head.Status);
        Assert.Equal(new UpgradeAnswer("websocket", "keep-alive,Upgrade", "abc=", "v1.stomp", "permessage-deflate, x-other"), head.Answer);
        Assert.Null(head.Location);
    }

    [Fact]
    public void Parse_Redirect_KeepsLocation()
    {
        var head = Parse("HTTP/1.0 302 Found\r\nLocation: wss://elsewhere.example/ws?a=1\r\n\r\n");

        Assert.Equal(302, head.Status);
        Assert.Equal("wss://elsewhere.example/ws?a=1", head.Location);
    }

    [Theory]
    [InlineData("HTTP/1.1 101")]
    [InlineData("HTTP/1.1 404 Not Found")]
    public void ParseStatus_ValidLine_ReturnsStatus(string line)
        => Assert.Equal(int.Parse(line.AsSpan(9, 3), provider: null), ResponseHead.ParseStatus(Encoding.ASCII.GetBytes(line)));

    [Theory]
    [InlineData("SSH-2.0-OpenSSH_9.6")]
    [InlineData("HTTP/2 200 OK")]
    [InlineData("HTTP/1.1 2000 OK")]
    [InlineData("HTTP/1.1 20x OK")]
    [InlineData("HTTP/1.1 099 Low")]
    [InlineData("")]
    public void ParseStatus_NotAStatusLine_ThrowsWithHttpClientsWords(string line)
    {
        var failed = Assert.Throws<HttpRequestException>(() => ResponseHead.ParseStatus(Encoding.ASCII.GetBytes(line)));

        Assert.Equal($"Received an invalid status line: '{line}'.", failed.Message);
    }

    [Theory]
    [InlineData("no colon here")]
    [InlineData("Upgrade : websocket")]
    [InlineData(": empty name")]
    public void Parse_InvalidHeaderLine_Throws(string line)
    {
        var failed = Assert.Throws<HttpRequestException>(() => Parse($"HTTP/1.1 101 Switching Protocols\r\n{line}\r\n\r\n"));

        Assert.Equal($"Received an invalid header line: '{line}'.", failed.Message);
    }
}
