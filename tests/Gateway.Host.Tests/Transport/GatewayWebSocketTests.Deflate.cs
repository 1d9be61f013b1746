using System.IO.Compression;
using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using CsCheck;
using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed partial class GatewayWebSocketTests
{
    private static readonly DeflateParameters s_deflate = DeflateParameters.Default;

    // Compressible (repeated words), incompressible (random bytes) and empty payloads. Properties, so that the
    // generators of the other part of this class exist when they are built.
    private static Gen<byte[]> DeflatePayload => Gen.Frequency(
        (3, ServerFrameGen.ValidText),
        (3, Gen.Select(Gen.Int[0, 3000], Gen.OneOf("ab", "price=42.17;", "é€😀"), (n, word) => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(word, n))))),
        (2, Gen.Int[0, 2000].SelectMany(n => Gen.Byte.Array[n])),
        (1, Gen.Const(Array.Empty<byte>())),
        (1, Gen.OneOf(65535, 70_000).Select(Payload)));

    private static Gen<CompressedScript> CompressedScripts => Gen.Select(
        Gen.Select(Gen.Bool, DeflatePayload, Gen.Int[0, int.MaxValue].Array[0, 3], (text, payload, cuts) => (Text: text && System.Text.Unicode.Utf8.IsValid(payload), Payload: payload, Cuts: cuts)).Array[1, 8],
        Gen.Bool,
        Gen.Bool,
        Gen.Frequency((3, Gen.Int[1, 16]), (3, Gen.Int[17, 3000]), (1, Gen.Const(100_000))).Array[1, 6],
        Gen.Frequency((3, Gen.Int[1, 16]), (3, Gen.Int[17, 3000]), (1, Gen.Const(70_000))).Array[1, 6],
        (messages, serverNoContext, clientNoContext, chunks, buffers) => new CompressedScript(
            [.. messages.Select(m => new CompressedMessage(m.Text, m.Payload, [.. m.Cuts.Select(c => c % (m.Payload.Length + 1)).Order()]))], serverNoContext, clientNoContext, chunks, buffers));

    [Theory]
    [InlineData("permessage-deflate", false, false, 15, 15)]
    [InlineData("PerMessage-Deflate ; Server_No_Context_Takeover;client_no_context_takeover", true, true, 15, 15)]
    [InlineData("permessage-deflate; client_max_window_bits=10; server_max_window_bits=\"12\"", false, false, 12, 10)]
    [InlineData("permessage-deflate;server_max_window_bits=8;client_max_window_bits=15", false, false, 8, 15)]
    public void TryParse_ValidAnswer_ReturnsParameters(string header, bool serverNoContext, bool clientNoContext, int serverBits, int clientBits)
    {
        Assert.True(DeflateParameters.TryParse(header, out var parameters, out var error), error);
        Assert.Equal(new DeflateParameters(serverNoContext, clientNoContext, serverBits, clientBits), parameters);
        Assert.Equal(clientBits == 15, parameters.CanCompressSends);
    }

    [Theory]
    [InlineData("x-webkit-deflate-frame", "not offered")]
    [InlineData("permessage-deflate, permessage-deflate", "more than one")]
    [InlineData("permessage-deflate; mux", "'mux'")]
    [InlineData("permessage-deflate; client_max_window_bits", "'client_max_window_bits'")]
    [InlineData("permessage-deflate; server_max_window_bits", "'server_max_window_bits'")]
    [InlineData("permessage-deflate; server_max_window_bits=16", "=16")]
    [InlineData("permessage-deflate; client_max_window_bits=7", "=7")]
    [InlineData("permessage-deflate; client_max_window_bits=09", "=09")]
    [InlineData("permessage-deflate; client_max_window_bits=1x", "=1x")]
    [InlineData("permessage-deflate; server_no_context_takeover=1", "server_no_context_takeover=1")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "repeats")]
    [InlineData("permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", "repeats")]
    public void TryParse_InvalidAnswer_SaysWhy(string header, string why)
    {
        Assert.False(DeflateParameters.TryParse(header, out _, out var error));
        Assert.Contains(why, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, null, null)]
    [InlineData(true, "permessage-deflate; client_no_context_takeover", null)]
    [InlineData(false, "permessage-deflate", "handshake failed: the server chose an extension, which was not offered")]
    [InlineData(true, "permessage-deflate; server_max_window_bits=20", "handshake failed: the server's permessage-deflate answer has an unknown or invalid parameter")]
    [InlineData(true, "x-webkit-deflate-frame", "handshake failed: the server chose extension 'x-webkit-deflate-frame', which was not offered")]
    public async Task UpgradeAsync_ExtensionAnswer_AcceptedOrFailsTheAttempt(bool compression, string? answer, string? error)
    {
        using var handler = new UpgradeHandler(answer);
        using var invoker = new HttpMessageInvoker(handler);

        var upgrade = WebSocketUpgrade.UpgradeAsync(invoker, new Uri("ws://127.0.0.1:1/feed"), new Dictionary<string, string>(), [], compression, Timeout);

        Assert.Equal(compression ? DeflateParameters.Offer : null, handler.Offered);
        if (error is not null)
        {
            var ex = await Assert.ThrowsAsync<ConnectException>(() => upgrade);
            Assert.StartsWith(error, ex.Message, StringComparison.Ordinal);
            Assert.Equal("handshake_extension", ex.ErrorType);
            return;
        }

        var (stream, _, deflate) = await upgrade;
        await stream.DisposeAsync();
        Assert.Equal(answer is null ? null : new DeflateParameters(false, true, 15, 15), deflate);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task SendAndReceive_CompressedBothWays_SameMessagesWithAndWithoutContextTakeover(bool serverNoContext, bool clientNoContext)
    {
        var (stream, server) = CompressedPair(serverNoContext, clientNoContext);
        using var client = new GatewayWebSocket(stream, null, new DeflateParameters(serverNoContext, clientNoContext, 15, 15));
        var messages = new[] { "hello hello hello", "hello hello hello", string.Empty, string.Concat(Enumerable.Repeat("tick 42.17 ", 20_000)), "héllo €𝄞" };

        foreach (var text in messages)
        {
            await server.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, Timeout);
            var (type, received) = await ReadMessageAsync(client);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(text, Encoding.UTF8.GetString(received));

            var reading = ReadMessageAsync(server);
            await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Binary, endOfMessage: true, Timeout);
            var (echoType, echoed) = await reading;
            Assert.Equal(WebSocketMessageType.Binary, echoType);
            Assert.Equal(text, Encoding.UTF8.GetString(echoed));
        }

        // Compressed on the wire: the 220,000-byte message took a fraction of that.
        Assert.True(stream.WrittenBytes < 20_000, $"{stream.WrittenBytes} bytes written");
        server.Dispose();
    }

    [Fact]
    public async Task SendAsync_ServerLimitsTheClientWindow_SendsUncompressedWhileStillInflating()
    {
        var (stream, server) = CompressedPair(serverNoContext: false, clientNoContext: false, clientMaxWindowBits: 10);
        using var client = new GatewayWebSocket(stream, null, new DeflateParameters(false, false, 15, 10));
        var text = string.Concat(Enumerable.Repeat("limited window ", 1000));

        var reading = ReadMessageAsync(server);
        await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, Timeout);
        var (_, received) = await reading;
        await server.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, Timeout);
        var (_, inflated) = await ReadMessageAsync(client);

        Assert.Equal(text, Encoding.UTF8.GetString(received));
        Assert.Equal(text, Encoding.UTF8.GetString(inflated));
        Assert.True(stream.WrittenBytes > text.Length, $"{stream.WrittenBytes} bytes written");
        server.Dispose();
    }

    [Fact]
    public async Task ReceiveAsync_FragmentedCompressedMessageWithPingBetween_DeliversTheWholeMessage()
    {
        var text = string.Concat(Enumerable.Repeat("fragmented and compressed ", 500));
        var compressed = Deflate(Encoding.UTF8.GetBytes(text));
        using var stream = new ScriptedStream(ServerFrame.Encode(
        [
            new ServerFrame(0x41, compressed[..10]),
            new ServerFrame(0x89, [7]),
            new ServerFrame(0x00, compressed[10..^3]),
            new ServerFrame(0x00, []),
            new ServerFrame(0x80, compressed[^3..]),
            new ServerFrame(0xC2, Deflate([1, 2, 3])),
        ]), [5, 100, 3]);
        using var client = new GatewayWebSocket(stream, null, s_deflate);

        var (type, received) = await ReadMessageAsync(client);
        var (secondType, second) = await ReadMessageAsync(client);

        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(text, Encoding.UTF8.GetString(received));
        Assert.Equal(WebSocketMessageType.Binary, secondType);
        Assert.Equal([1, 2, 3], second);
        Assert.Equal(["8A:07"], stream.WrittenFrames.Select(f => f.ToString()));
    }

    [Theory]
    [InlineData(false, 0xC1, "server set reserved bits (RSV1)")]
    [InlineData(false, 0xC2, "server set reserved bits (RSV1)")]
    [InlineData(true, 0xE1, "server set reserved bits (RSV1, RSV2)")]
    [InlineData(true, 0xC9, "server set reserved bits (RSV1)")]
    [InlineData(true, 0xC8, "server set reserved bits (RSV1)")]
    public async Task ReceiveAsync_Rsv1NotNegotiatedOrOnAControlFrame_ClosesWith1002(bool negotiated, byte first, string error)
    {
        using var stream = new ScriptedStream(ServerFrame.Encode([new ServerFrame(first, Deflate("abc"u8.ToArray()))]));
        using var client = new GatewayWebSocket(stream, null, negotiated ? s_deflate : null);

        var ex = await Assert.ThrowsAsync<WebSocketException>(() => client.ReceiveAsync(new byte[100].AsMemory(), Timeout).AsTask());

        Assert.StartsWith(error, GatewayWebSocketException.Of(ex)!.Message, StringComparison.Ordinal);
        Assert.Equal(1002, stream.WrittenFrames.Single().CloseCode);
    }

    [Fact]
    public async Task ReceiveAsync_Rsv1OnAContinuationFrame_ClosesWith1002()
    {
        using var stream = new ScriptedStream(ServerFrame.Encode([new ServerFrame(0x41, Deflate("abc"u8.ToArray())), new ServerFrame(0xC0, [])]));
        using var client = new GatewayWebSocket(stream, null, s_deflate);

        var ex = await Assert.ThrowsAsync<WebSocketException>(() => ReadMessageAsync(client));

        Assert.StartsWith("server set reserved bits (RSV1)", GatewayWebSocketException.Of(ex)!.Message, StringComparison.Ordinal);
        Assert.Equal(1002, stream.WrittenFrames.Single().CloseCode);
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0xC0, 0x80, 0x62 })]
    [InlineData(new byte[] { 0x61, 0xE2, 0x82 })]
    public async Task ReceiveAsync_InvalidUtf8AfterInflating_ClosesWith1007(byte[] text)
    {
        using var stream = new ScriptedStream(ServerFrame.Encode([new ServerFrame(0xC1, Deflate(text))]));
        using var client = new GatewayWebSocket(stream, null, s_deflate);

        var ex = await Assert.ThrowsAsync<WebSocketException>(() => ReadMessageAsync(client));

        Assert.StartsWith("invalid UTF-8 in a text message", GatewayWebSocketException.Of(ex)!.Message, StringComparison.Ordinal);
        Assert.Equal(1007, stream.WrittenFrames.Single().CloseCode);
    }

    [Fact]
    public async Task ReceiveAsync_DataThatDoesNotInflate_ClosesWith1007()
    {
        using var stream = new ScriptedStream(ServerFrame.Encode([new ServerFrame(0xC2, [0xFF, 0xFF, 0xFF, 0xFF])]));
        using var client = new GatewayWebSocket(stream, null, s_deflate);

        var ex = await Assert.ThrowsAsync<WebSocketException>(() => ReadMessageAsync(client));

        Assert.StartsWith("server sent a compressed message that does not inflate", GatewayWebSocketException.Of(ex)!.Message, StringComparison.Ordinal);
        Assert.Equal(1007, stream.WrittenFrames.Single().CloseCode);
    }

    [Fact]
    public async Task ReadAsync_CompressedMessageInflatingPastMaxMessageSize_TooLargeWithBoundedMemory()
    {
        // 64 MiB of zeros deflate to about 64 KiB: a bomb against a 64 KiB limit.
        const int MaxMessageSize = 64 * 1024;
        var bomb = Deflate(new byte[64 * 1024 * 1024]);
        using var stream = new ScriptedStream(ServerFrame.Encode([new ServerFrame(0xC2, bomb)]), [16 * 1024]);
        using var client = new GatewayWebSocket(stream, null, s_deflate);
        var reader = new WebSocketMessageReader(new FrameBufferPool(maxRetainedPerSize: 4), MaxMessageSize);

        // The scripted stream completes every read at once, so the whole read runs on this thread.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var read = reader.ReadAsync(client);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var result = await read;

        Assert.True(bomb.Length < MaxMessageSize, $"{bomb.Length} compressed bytes");
        Assert.Equal(ReadOutcome.TooLarge, result.Outcome);
        Assert.Equal(MaxMessageSize + 1, result.Count);
        Assert.True(allocated < 2 * 1024 * 1024, $"{allocated} bytes allocated");
    }

    [Fact]
    public void ReceiveAsync_GeneratedCompressedStreams_SameMessagesAsThePlatformSocket()
    {
        CompressedScripts.Sample(script =>
        {
            var deflateOptions = new WebSocketDeflateOptions { ServerContextTakeover = !script.ServerNoContext, ClientContextTakeover = !script.ClientNoContext };

            // The platform compresses the server's messages ...
            var serverWrites = new ScriptedStream([]);
            using (var server = WebSocket.CreateFromStream(serverWrites, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero, DangerousDeflateOptions = deflateOptions }))
            {
                foreach (var message in script.Messages)
                {
                    foreach (var (piece, last) in message.Pieces())
                    {
                        server.SendAsync(piece, message.Type, last, default).AsTask().GetAwaiter().GetResult();
                    }
                }
            }

            var bytes = serverWrites.Written;

            // ... and both client sockets inflate them, read in the same chunks into the same buffer sizes.
            var expected = ReceiveMessages(new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero, DangerousDeflateOptions = deflateOptions }, null, bytes, script);
            var actual = ReceiveMessages(null, new DeflateParameters(script.ServerNoContext, script.ClientNoContext, 15, 15), bytes, script);
            Assert.Equal([.. script.Messages.Select(m => $"{m.Type}:{Convert.ToHexString(m.Payload)}")], expected);
            Assert.Equal(expected, actual);

            // The gateway compresses the same messages in the same pieces, and the platform's server inflates them.
            var clientWrites = new ScriptedStream([]);
            using (var client = new GatewayWebSocket(clientWrites, null, new DeflateParameters(script.ServerNoContext, script.ClientNoContext, 15, 15)))
            {
                foreach (var message in script.Messages)
                {
                    foreach (var (piece, last) in message.Pieces())
                    {
                        client.SendAsync(piece, message.Type, last, default).AsTask().GetAwaiter().GetResult();
                    }
                }
            }

            Assert.All(ClientFrame.Parse(clientWrites.Written), f => Assert.Equal(f.Opcode != 0, (f.First & 0x40) != 0));
            using var reader = new ScriptedStream(clientWrites.Written, script.Chunks);
            using var platformServer = WebSocket.CreateFromStream(reader, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero, DangerousDeflateOptions = deflateOptions });
            Assert.Equal(expected, ReadAll(platformServer, script.Buffers, script.Messages.Length));
        }, iter: 150, threads: 1);
    }

    private static List<string> ReceiveMessages(WebSocketCreationOptions? platform, DeflateParameters? gateway, byte[] bytes, CompressedScript script)
    {
        using var stream = new ScriptedStream(bytes, script.Chunks);
        using var socket = platform is not null ? WebSocket.CreateFromStream(stream, platform) : new GatewayWebSocket(stream, null, gateway);
        return ReadAll(socket, script.Buffers, script.Messages.Length);
    }

    private static List<string> ReadAll(WebSocket socket, int[] buffers, int count)
    {
        var messages = new List<string>();
        var message = new List<byte>();
        for (var i = 0; messages.Count < count; i++)
        {
            var buffer = new byte[buffers[i % buffers.Length]];
            var result = socket.ReceiveAsync(buffer.AsMemory(), default).AsTask().GetAwaiter().GetResult();
            message.AddRange(buffer.AsSpan(0, result.Count));
            if (result.EndOfMessage)
            {
                messages.Add($"{result.MessageType}:{Convert.ToHexString([.. message])}");
                message.Clear();
            }
        }

        return messages;
    }

    /// <summary>A client end and a platform server that compresses (RFC 7692), over in-memory pipes.</summary>
    private static (CountingStream Client, WebSocket Server) CompressedPair(bool serverNoContext, bool clientNoContext, int clientMaxWindowBits = 15)
    {
        var options = new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);
        var toServer = new System.IO.Pipelines.Pipe(options);
        var toClient = new System.IO.Pipelines.Pipe(options);
        var server = WebSocket.CreateFromStream(new DuplexStream(toServer.Reader, toClient.Writer), new WebSocketCreationOptions
        {
            IsServer = true,
            KeepAliveInterval = TimeSpan.Zero,
            DangerousDeflateOptions = new WebSocketDeflateOptions { ServerContextTakeover = !serverNoContext, ClientContextTakeover = !clientNoContext, ClientMaxWindowBits = clientMaxWindowBits },
        });
        return (new CountingStream(new PipeStream(toClient.Reader, toServer.Writer)), server);
    }

    /// <summary>Raw deflate of <paramref name="payload"/> with a sync flush, without the 0x00 0x00 0xFF 0xFF tail.</summary>
    private static byte[] Deflate(byte[] payload)
    {
        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(payload);
            deflate.Flush();
            Assert.Equal([0x00, 0x00, 0xFF, 0xFF], output.ToArray()[^4..]);
            return output.ToArray()[..^4];
        }
    }

    private sealed record CompressedMessage(bool Text, byte[] Payload, int[] Cuts)
    {
        public WebSocketMessageType Type => Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;

        public IEnumerable<(ReadOnlyMemory<byte> Piece, bool Last)> Pieces()
        {
            var start = 0;
            foreach (var cut in Cuts)
            {
                yield return (Payload.AsMemory(start, cut - start), false);
                start = cut;
            }

            yield return (Payload.AsMemory(start), true);
        }
    }

    private sealed record CompressedScript(CompressedMessage[] Messages, bool ServerNoContext, bool ClientNoContext, int[] Chunks, int[] Buffers)
    {
        public override string ToString()
            => $"{string.Join(" | ", Messages.Select(m => $"{m.Type} {m.Payload.Length} B cuts [{string.Join(',', m.Cuts)}]"))} serverNoContext {ServerNoContext} clientNoContext {ClientNoContext} chunks [{string.Join(',', Chunks)}] buffers [{string.Join(',', Buffers)}]";
    }

    /// <summary>Answers the upgrade with 101, the right accept value and <c>Sec-WebSocket-Extensions</c> when given.</summary>
    private sealed class UpgradeHandler(string? extensions) : HttpMessageHandler
    {
        public string? Offered { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Offered = request.Headers.TryGetValues("Sec-WebSocket-Extensions", out var offered) ? string.Join(", ", offered) : null;
            var key = request.Headers.GetValues("Sec-WebSocket-Key").Single();
#pragma warning disable CA5350 // RFC 6455's accept value is SHA-1.
            var accept = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
            var response = new HttpResponseMessage(HttpStatusCode.SwitchingProtocols) { Content = new StreamContent(new MemoryStream()) };
            response.Headers.TryAddWithoutValidation("Upgrade", "websocket");
            response.Headers.TryAddWithoutValidation("Connection", "Upgrade");
            response.Headers.TryAddWithoutValidation("Sec-WebSocket-Accept", accept);
            if (extensions is not null)
            {
                response.Headers.TryAddWithoutValidation("Sec-WebSocket-Extensions", extensions);
            }

            return Task.FromResult(response);
        }
    }

    /// <summary>Counts what the client writes.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long WrittenBytes { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            WrittenBytes += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count)
        {
            WrittenBytes += count;
            inner.Write(buffer, offset, count);
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
