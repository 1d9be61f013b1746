using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Gateway.Host.Health;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Faults;

/// <summary>Malformed, oversized, odd and concurrent requests to the HTTP API: never a 5xx, always a 4xx or 2xx that says what happened.</summary>
public sealed class ApiAbuseTests
{
    private const string Key = "abuse-key";

    private sealed record Case(string Name, HttpMethod Method, string Path, HttpContent? Content, string? ApiKey, params HttpStatusCode[] Expected);

    private static StringContent Text(string body, string? contentType)
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static ByteArrayContent Raw(byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return content;
    }

    /// <summary>A body of unknown length (chunked), so the endpoint has to count while reading.</summary>
    private static StreamContent Chunked(int length, string contentType)
    {
        var content = new StreamContent(new NoLengthStream(length));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static IEnumerable<Case> Cases()
    {
        var accepted = HttpStatusCode.Accepted;
        yield return new("malformed JSON is just text", HttpMethod.Post, "/sockets/up/messages", Text("{\"op\": ", "application/json"), Key, accepted);
        yield return new("JSON with a bad charset", HttpMethod.Post, "/sockets/up/messages", Text("{}", "application/json; charset=latin1"), Key, HttpStatusCode.UnsupportedMediaType);
        yield return new("no Content-Type", HttpMethod.Post, "/sockets/up/messages", Raw("x"u8.ToArray(), null), Key, HttpStatusCode.UnsupportedMediaType);
        yield return new("unparsable Content-Type", HttpMethod.Post, "/sockets/up/messages", Raw("x"u8.ToArray(), "!!!; ;="), Key, HttpStatusCode.UnsupportedMediaType);
        yield return new("form content", HttpMethod.Post, "/sockets/up/messages", new FormUrlEncodedContent([new("a", "b")]), Key, HttpStatusCode.UnsupportedMediaType);
        yield return new("multipart content", HttpMethod.Post, "/sockets/up/messages", new MultipartFormDataContent { { Text("x", "text/plain"), "f" } }, Key, HttpStatusCode.UnsupportedMediaType);
        yield return new("invalid UTF-8 as text", HttpMethod.Post, "/sockets/up/messages", Raw([0xC3, 0x28, 0xFF], "text/plain"), Key, HttpStatusCode.BadRequest);
        yield return new("empty text body", HttpMethod.Post, "/sockets/up/messages", Text(string.Empty, "text/plain"), Key, accepted);
        yield return new("empty binary body", HttpMethod.Post, "/sockets/up/messages", Raw([], "application/octet-stream"), Key, accepted);
        yield return new("no body at all", HttpMethod.Post, "/sockets/up/messages", null, Key, HttpStatusCode.UnsupportedMediaType);
        yield return new("body over MaxMessageSize, with length", HttpMethod.Post, "/sockets/up/messages", Raw(new byte[70_000], "application/octet-stream"), Key, HttpStatusCode.RequestEntityTooLarge);
        yield return new("body over MaxMessageSize, chunked", HttpMethod.Post, "/sockets/up/messages", Chunked(70_000, "text/plain"), Key, HttpStatusCode.RequestEntityTooLarge);
        yield return new("body over Kestrel's 30 MB request limit, chunked", HttpMethod.Post, "/sockets/big/messages", Chunked(31 * 1024 * 1024, "application/octet-stream"), Key, HttpStatusCode.RequestEntityTooLarge);
        yield return new("group body over every member's limit", HttpMethod.Post, "/groups/g/messages", Chunked(70_000, "text/plain"), Key, HttpStatusCode.RequestEntityTooLarge);
        yield return new("?wait=maybe counts as no wait", HttpMethod.Post, "/sockets/up/messages?wait=maybe", Text("x", "text/plain"), Key, accepted);
        yield return new("?wait twice", HttpMethod.Post, "/sockets/up/messages?wait=true&wait=false", Text("x", "text/plain"), Key, accepted);
        yield return new("very long socket name", HttpMethod.Get, "/sockets/" + new string('n', 4_000), null, null, HttpStatusCode.NotFound);
        yield return new("socket name beyond Kestrel's request line", HttpMethod.Post, "/sockets/" + new string('n', 10_000) + "/messages", Text("x", "text/plain"), Key, HttpStatusCode.RequestUriTooLong);
        yield return new("URL-encoded slash in the name", HttpMethod.Post, "/sockets/up%2F..%2Fup/messages", Text("x", "text/plain"), Key, HttpStatusCode.NotFound);
        yield return new("dot-dot segment", HttpMethod.Get, "/sockets/../sockets/up", null, null, HttpStatusCode.OK);
        // Kestrel resolves /sockets/.. to /, the status page: never a socket named "..".
        yield return new("encoded dot-dot as the name", HttpMethod.Get, "/sockets/%2E%2E", null, null, HttpStatusCode.OK);
        yield return new("unicode name", HttpMethod.Post, "/sockets/%C3%BCp%F0%9F%98%80/messages", Text("x", "text/plain"), Key, HttpStatusCode.NotFound);
        yield return new("NUL in the name", HttpMethod.Get, "/sockets/up%00", null, null, HttpStatusCode.NotFound, HttpStatusCode.BadRequest);
        yield return new("invalid percent-encoding", HttpMethod.Get, "/sockets/%ZZ", null, null, HttpStatusCode.NotFound, HttpStatusCode.BadRequest);
        yield return new("name differing only in case", HttpMethod.Get, "/sockets/UP", null, null, HttpStatusCode.OK, HttpStatusCode.NotFound);
        yield return new("unicode group", HttpMethod.Post, "/groups/%E2%82%AC/messages", Text("x", "text/plain"), Key, HttpStatusCode.NotFound);
        yield return new("unknown route", HttpMethod.Get, "/nothing/here", null, null, HttpStatusCode.NotFound);
        yield return new("GET on a POST route", HttpMethod.Get, "/sockets/up/messages", null, null, HttpStatusCode.MethodNotAllowed);
        yield return new("PUT on a socket", HttpMethod.Put, "/sockets/up", Text("x", "text/plain"), Key, HttpStatusCode.MethodNotAllowed);
        yield return new("DELETE on a socket", HttpMethod.Delete, "/sockets/up", null, Key, HttpStatusCode.MethodNotAllowed);
        yield return new("PATCH on reconnect", HttpMethod.Patch, "/sockets/up/reconnect", null, Key, HttpStatusCode.MethodNotAllowed);
        yield return new("POST to the listing", HttpMethod.Post, "/sockets", Text("x", "text/plain"), Key, HttpStatusCode.MethodNotAllowed);
        yield return new("POST to health", HttpMethod.Post, "/health/ready", Text("x", "text/plain"), null, HttpStatusCode.MethodNotAllowed, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK);
        yield return new("send without a key", HttpMethod.Post, "/sockets/up/messages", Text("x", "text/plain"), null, HttpStatusCode.Unauthorized);
        yield return new("send with an empty key", HttpMethod.Post, "/sockets/up/messages", Text("x", "text/plain"), string.Empty, HttpStatusCode.Unauthorized);
        yield return new("send with a huge key", HttpMethod.Post, "/sockets/up/messages", Text("x", "text/plain"), new string('k', 6_000), HttpStatusCode.Unauthorized);
        yield return new("group send without a key", HttpMethod.Post, "/groups/g/messages", Text("x", "text/plain"), null, HttpStatusCode.Unauthorized);
        yield return new("reconnect without a key", HttpMethod.Post, "/sockets/up/reconnect", null, null, HttpStatusCode.Unauthorized);
        yield return new("unknown socket without a key", HttpMethod.Post, "/sockets/nope/messages", Text("x", "text/plain"), null, HttpStatusCode.Unauthorized);
        yield return new("reconnect an unknown socket", HttpMethod.Post, "/sockets/nope/reconnect", null, Key, HttpStatusCode.NotFound);
        yield return new("reconnect with a body", HttpMethod.Post, "/sockets/up/reconnect", Text("{\"force\":true}", "application/json"), Key, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Api_MalformedOddAndOversizedRequests_NeverA5xxEachASensibleStatus()
    {
        await using var up = await UpstreamServer.StartIdleAsync();
        await using var big = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig()
            .Set("Gateway:Api:Key", Key)
            .Socket("up", up.Url(), ("MaxMessageSize", "65536"), ("Groups:0", "g"))
            .Socket("big", big.Url(), ("MaxMessageSize", "67108864")));
        await Eventually.TrueAsync(() => gateway.Status("up").State == SocketState.Ready && gateway.Status("big").State == SocketState.Ready, "both sockets ready");

        var failures = new List<string>();
        foreach (var c in Cases())
        {
            using var request = new HttpRequestMessage(c.Method, c.Path) { Content = c.Content };
            if (c.ApiKey is not null)
            {
                request.Headers.TryAddWithoutValidation("X-Api-Key", c.ApiKey);
            }

            HttpStatusCode status;
            try
            {
                using var response = await gateway.Http.SendAsync(request, TestContext.Current.CancellationToken);
                status = response.StatusCode;
            }
            catch (HttpRequestException ex)
            {
                failures.Add($"{c.Name}: no response ({ex.Message})");
                continue;
            }

            if ((int)status >= 500 || !c.Expected.Contains(status))
            {
                failures.Add($"{c.Name}: {(int)status} {status}, expected {string.Join(" or ", c.Expected.Select(e => (int)e))}");
            }
        }

        // What HttpClient refuses to send: raw bytes over TCP.
        var port = gateway.Http.BaseAddress!.Port;
        foreach (var (name, raw, expected) in RawCases())
        {
            var status = await SendRawAsync(port, raw, expectAnswer: expected.Length > 0);
            if (expected.Length > 0 && (status is not { } code || !expected.Contains(code)))
            {
                failures.Add($"{name}: {status}, expected {string.Join(" or ", expected)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.DoesNotContain(gateway.Logs.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
        // The first connection and the one reconnect a case asked for: nothing else disturbed the socket.
        await Eventually.TrueAsync(() => up.ConnectionCount == 2 && gateway.Status("up").State == SocketState.Ready, "up is Ready on its second connection");
    }

    /// <summary>Requests as bytes; the expected status codes (an empty list: no answer is fine, the client broke off).</summary>
    private static IEnumerable<(string Name, byte[] Request, int[] Expected)> RawCases()
    {
        static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);
        yield return ("non-ASCII API key", Latin1($"POST /sockets/up/messages HTTP/1.1\r\nHost: a\r\nX-Api-Key: k\u00e9y\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), [400, 401]);
        yield return ("garbage request line", Latin1("GARBAGE\r\n\r\n"), [400]);
        yield return ("HTTP/1.0 without Host", Latin1("GET /sockets HTTP/1.0\r\n\r\n"), [200]);
        yield return ("Content-Length that is not a number", Latin1($"POST /sockets/up/messages HTTP/1.1\r\nHost: a\r\nX-Api-Key: {Key}\r\nContent-Type: text/plain\r\nContent-Length: lots\r\nConnection: close\r\n\r\nx"), [400]);
        yield return ("body shorter than its Content-Length, then closed", Latin1($"POST /sockets/up/messages HTTP/1.1\r\nHost: a\r\nX-Api-Key: {Key}\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n\r\nabc"), []);
    }

    /// <summary>
    /// Writes <paramref name="request"/> and returns the status of the answer (null: the server closed without one).
    /// With no expected status, the client goes away right after writing (Kestrel takes a half-close for that too).
    /// </summary>
    private static async Task<int?> SendRawAsync(int port, byte[] request, bool expectAnswer)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(request);
        if (!expectAnswer)
        {
            return null;
        }

        using var reader = new StreamReader(stream, Encoding.Latin1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var line = await reader.ReadLineAsync(timeout.Token);

        return line is { Length: >= 12 } && line.StartsWith("HTTP/1.", StringComparison.Ordinal) ? int.Parse(line.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    [Fact]
    public async Task Reconnect_ManyConcurrentCalls_EachAcceptedOrConflictAndTheSocketEndsReady()
    {
        await using var up = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(new TestConfig().Set("Gateway:Api:Key", Key).Socket("up", up.Url()));
        await Eventually.TrueAsync(() => gateway.Status("up").State == SocketState.Ready, "ready");

        async Task<HttpStatusCode> ReconnectAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/sockets/up/reconnect");
            request.Headers.Add("X-Api-Key", Key);
            using var response = await gateway.Http.SendAsync(request);
            return response.StatusCode;
        }

        var statuses = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Task.Run(ReconnectAsync)));

        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Accepted or HttpStatusCode.Conflict, $"{(int)s} {s}"));
        Assert.Contains(HttpStatusCode.Accepted, statuses);
        await Eventually.TrueAsync(() => gateway.Status("up").State == SocketState.Ready, "ready again");
        var accepted = statuses.Count(s => s == HttpStatusCode.Accepted);
        await Eventually.TrueAsync(() => up.ConnectionCount >= 2, "reconnected");
        Assert.InRange(up.ConnectionCount, 2, accepted + 1); // no more connections than accepted requests (plus the first)
        Assert.DoesNotContain(gateway.Logs.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    /// <summary>Zeros of a given length, with no known length (sent chunked).</summary>
    private sealed class NoLengthStream(int length) : Stream
    {
        private int _remaining = length;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, _remaining);
            Array.Clear(buffer, offset, n);
            _remaining -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
