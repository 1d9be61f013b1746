using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;

namespace Gateway.Testing;

/// <summary>
/// A misbehaving WebSocket server for fault tests: a plain <see cref="TcpListener"/> on 127.0.0.1:0
/// where each test scripts, byte by byte, what the server answers to the upgrade request and sends
/// afterwards. Nothing is answered unless the script says so (pings included), so it can also stand
/// for a hung or half-open peer.
/// </summary>
/// <remarks>
/// Without a script, accepted connections wait in line for <see cref="AcceptAsync"/>. With one
/// (<see cref="Start(Func{RawPeerSession, Task})"/>), it runs for every accepted connection, which suits
/// a gateway that reconnects; the session stays open after the script returns until the script
/// closes it or the peer is disposed.
/// </remarks>
public sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<RawPeerSession, Task>? _script;
    private readonly Channel<RawPeerSession> _accepted = Channel.CreateUnbounded<RawPeerSession>();
    private readonly List<RawPeerSession> _sessions = [];
    private readonly List<Task> _scripts = [];
    private Task _accepting = Task.CompletedTask;
    private int _connections;
    private int _scriptFailures;

    private RawPeer(Func<RawPeerSession, Task>? script, int port)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, port);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>TCP connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Scripts that ended with an exception other than the connection going away.</summary>
    public int ScriptFailures => Volatile.Read(ref _scriptFailures);

    /// <summary>When set, accepted connections are closed at once, before anything is read (and not kept as sessions).</summary>
    public bool DropOnAccept { get; set; }

    public Uri Url(string path = "/ws", string scheme = "ws") => new($"{scheme}://127.0.0.1:{Port}{path}");

    /// <summary>A peer whose connections wait for <see cref="AcceptAsync"/>.</summary>
    public static RawPeer Start() => StartCore(null);

    /// <summary>A peer that runs <paramref name="script"/> on every accepted connection.</summary>
    /// <param name="script">What the peer does with each connection.</param>
    /// <param name="port">0 for any free port; a given one to come up where connections were refused so far.</param>
    public static RawPeer Start(Func<RawPeerSession, Task> script, int port = 0) => StartCore(script, port);

    /// <summary>A free port on 127.0.0.1 with nothing listening: connections to it are refused.</summary>
    public static int RefusingPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static RawPeer StartCore(Func<RawPeerSession, Task>? script, int port = 0)
    {
        var peer = new RawPeer(script, port);
        peer._listener.Start(backlog: 512);
        peer._accepting = Task.Run(peer.AcceptLoopAsync);
        return peer;
    }

    /// <summary>The next accepted connection (only for a peer started without a script).</summary>
    public async Task<RawPeerSession> AcceptAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Eventually.DefaultTimeout);
        return await _accepted.Reader.ReadAsync(cts.Token);
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var number = Interlocked.Increment(ref _connections);
                if (DropOnAccept)
                {
                    // RST rather than FIN: no TIME_WAIT left behind on either side for a storm of thousands.
                    client.Client.LingerState = new LingerOption(true, 0);
                    client.Dispose();
                    continue;
                }

                var session = new RawPeerSession(client, number, _stop.Token);
                lock (_sessions)
                {
                    _sessions.RemoveAll(s => s.IsDisposed);
                    _sessions.Add(session);
                    if (_script is not null)
                    {
                        _scripts.RemoveAll(t => t.IsCompleted);
                        _scripts.Add(RunScriptAsync(session));
                    }
                }

                if (_script is null)
                {
                    _accepted.Writer.TryWrite(session);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        catch (InvalidOperationException) when (_stop.IsCancellationRequested)
        {
            // Disposed between two accepts: the listener was stopped before the next accept began ("Not listening").
        }
    }

    private async Task RunScriptAsync(RawPeerSession session)
    {
        try
        {
            await _script!(session);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or EndOfStreamException)
        {
            // The gateway went away mid-script: that is what fault tests provoke.
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _scriptFailures);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        List<RawPeerSession> sessions;
        Task[] scripts;
        lock (_sessions)
        {
            sessions = [.. _sessions];
            scripts = [.. _scripts];
        }

        foreach (var session in sessions)
        {
            session.Dispose();
        }

        await Task.WhenAll(scripts).WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}

/// <summary>The upgrade request as the peer read it: request line and headers (names case-insensitive).</summary>
public sealed record RawRequest(string RequestLine, IReadOnlyDictionary<string, string> Headers)
{
    public string? this[string header] => Headers.TryGetValue(header, out var value) ? value : null;
}

/// <summary>A frame a client sent, unmasked; for a close frame, its code and reason.</summary>
public sealed record RawFrame(bool Fin, int Rsv, int Opcode, bool Masked, byte[] Payload)
{
    public int? CloseCode => Opcode == WsFrame.Close && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : null;

    public string CloseReason => Opcode == WsFrame.Close && Payload.Length > 2 ? Encoding.UTF8.GetString(Payload, 2, Payload.Length - 2) : string.Empty;

    public string Text => Encoding.UTF8.GetString(Payload);
}

/// <summary>One TCP connection accepted by a <see cref="RawPeer"/>; each call does exactly what it says and nothing else.</summary>
public sealed class RawPeerSession : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private const int MaxFrame = 16 * 1024 * 1024;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private int _disposed;

    internal RawPeerSession(TcpClient client, int number, CancellationToken peerStopping)
    {
        PeerStopping = peerStopping;
        _client = client;
        _stream = client.GetStream();
        Number = number;
    }

    /// <summary>1 for the first connection the peer accepted, and so on.</summary>
    public int Number { get; }

    /// <summary>Cancelled when the peer is disposed: scripts that wait should wait on it.</summary>
    public CancellationToken PeerStopping { get; }

    /// <summary>The request read by <see cref="ReadRequestAsync"/>, once read.</summary>
    public RawRequest? Request { get; private set; }

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Reads the HTTP request line and headers (up to the blank line).</summary>
    public async Task<RawRequest> ReadRequestAsync(CancellationToken cancellationToken = default)
    {
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                throw new EndOfStreamException("the client closed before the end of the request headers");
            }
        }

        var text = Encoding.ASCII.GetString(_buffer, _start, headerEnd);
        _start += headerEnd + 4;
        var lines = text.Split("\r\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        Request = new RawRequest(lines[0], headers);
        return Request;
    }

    /// <summary>
    /// Answers a correct 101 (with <c>Sec-WebSocket-Accept</c> computed from the request's key), reading the request first if not yet read.
    /// </summary>
    /// <param name="subProtocol">Sent as <c>Sec-WebSocket-Protocol</c> when not null.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task AnswerUpgradeAsync(string? subProtocol = null, CancellationToken cancellationToken = default)
    {
        var request = Request ?? await ReadRequestAsync(cancellationToken);
        var key = request["Sec-WebSocket-Key"] ?? throw new InvalidOperationException("no Sec-WebSocket-Key in the request");
        var response = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
            .Append("Sec-WebSocket-Accept: ").Append(WsFrame.AcceptFor(key)).Append("\r\n");
        if (subProtocol is not null)
        {
            response.Append("Sec-WebSocket-Protocol: ").Append(subProtocol).Append("\r\n");
        }

        await WriteRawAsync(response.Append("\r\n").ToString(), cancellationToken);
    }

    /// <summary>Writes <paramref name="text"/> as ASCII, as is (a hand-made HTTP response, or garbage).</summary>
    public Task WriteRawAsync(string text, CancellationToken cancellationToken = default)
        => WriteRawAsync(Encoding.ASCII.GetBytes(text), cancellationToken);

    /// <summary>Writes <paramref name="bytes"/> as is.</summary>
    public async Task WriteRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        await _stream.WriteAsync(bytes, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    /// <summary>Writes one frame built by <see cref="WsFrame.Build"/>.</summary>
    public Task WriteFrameAsync(int opcode, ReadOnlyMemory<byte> payload, bool fin = true, int rsv = 0, bool masked = false, CancellationToken cancellationToken = default)
        => WriteRawAsync(WsFrame.Build(opcode, payload.Span, fin, rsv, masked), cancellationToken);

    /// <summary>Reads one frame the client sent and unmasks it; null if the client closed the TCP connection first.</summary>
    public async Task<RawFrame?> ReadClientFrameAsync(CancellationToken cancellationToken = default)
    {
        if (!await EnsureAsync(2, cancellationToken))
        {
            return null;
        }

        var b0 = _buffer[_start];
        var b1 = _buffer[_start + 1];
        var masked = (b1 & 0x80) != 0;
        long length = b1 & 0x7F;
        var header = 2;
        if (length == 126)
        {
            header = 4;
        }
        else if (length == 127)
        {
            header = 10;
        }

        if (!await EnsureAsync(header + (masked ? 4 : 0), cancellationToken))
        {
            return null;
        }

        length = header switch
        {
            4 => BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(_start + 2)),
            10 => (long)BinaryPrimitives.ReadUInt64BigEndian(_buffer.AsSpan(_start + 2)),
            _ => length,
        };
        if (length > MaxFrame)
        {
            throw new InvalidDataException($"client frame of {length} bytes is larger than this peer reads ({MaxFrame})");
        }

        var maskAt = _start + header;
        if (!await EnsureAsync(header + (masked ? 4 : 0) + (int)length, cancellationToken))
        {
            return null;
        }

        var payloadAt = maskAt + (masked ? 4 : 0);
        var payload = _buffer.AsSpan(payloadAt, (int)length).ToArray();
        if (masked)
        {
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] ^= _buffer[maskAt + (i % 4)];
            }
        }

        _start = payloadAt + (int)length;
        return new RawFrame((b0 & 0x80) != 0, (b0 >> 4) & 0x7, b0 & 0x0F, masked, payload);
    }

    /// <summary>Reads client frames until one with <paramref name="opcode"/>; null if the connection ended first.</summary>
    public async Task<RawFrame?> ReadClientFrameAsync(int opcode, CancellationToken cancellationToken = default)
    {
        while (await ReadClientFrameAsync(cancellationToken) is { } frame)
        {
            if (frame.Opcode == opcode)
            {
                return frame;
            }
        }

        return null;
    }

    /// <summary>Waits until the client closes the TCP connection (reading and discarding what it sends); false on timeout.</summary>
    public async Task<bool> WaitForClientCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await FillAsync(cts.Token))
            {
                _start = _end;
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Closes the TCP connection with a FIN (a graceful end of the byte stream, no close frame).</summary>
    public void Close()
    {
        try
        {
            _client.Client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Dispose();
    }

    /// <summary>Resets the TCP connection (RST), as a crashed server or a middlebox would.</summary>
    public void Abort()
    {
        try
        {
            _client.Client.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Dispose();
    }

    /// <summary>Keeps the connection open and does nothing at all, reading nothing, until the peer is disposed (a half-open or hung peer).</summary>
    public async Task StayOpenAsync()
    {
        try
        {
            await Task.Delay(Timeout.Infinite, PeerStopping);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _client.Dispose();
        }
    }

    private async Task<bool> EnsureAsync(int count, CancellationToken cancellationToken)
    {
        if (count > _buffer.Length)
        {
            var larger = new byte[Math.Max(count, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _start, larger, 0, _end - _start);
            _end -= _start;
            _start = 0;
            _buffer = larger;
        }

        while (_end - _start < count)
        {
            if (!await FillAsync(cancellationToken))
            {
                return false;
            }
        }

        return true;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidDataException("read buffer full");
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += read;
        return read > 0;
    }
}

/// <summary>Builds WebSocket frames byte by byte, valid or not (RFC 6455 section 5.2).</summary>
public static class WsFrame
{
    public const int Continuation = 0x0;
    public const int Text = 0x1;
    public const int Binary = 0x2;
    public const int Close = 0x8;
    public const int Ping = 0x9;
    public const int Pong = 0xA;

    /// <summary>One frame: any opcode (reserved ones too), FIN, RSV bits (0 to 7), masked or not (servers must not mask).</summary>
    public static byte[] Build(int opcode, ReadOnlySpan<byte> payload, bool fin = true, int rsv = 0, bool masked = false)
    {
        var extended = payload.Length switch { < 126 => 0, <= ushort.MaxValue => 2, _ => 8 };
        var frame = new byte[2 + extended + (masked ? 4 : 0) + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0F));
        var lengthByte = extended switch { 0 => payload.Length, 2 => 126, _ => 127 };
        frame[1] = (byte)((masked ? 0x80 : 0) | lengthByte);
        if (extended == 2)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else if (extended == 8)
        {
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }

        var at = 2 + extended;
        if (masked)
        {
            var mask = frame.AsSpan(at, 4);
            RandomNumberGenerator.Fill(mask);
            at += 4;
            for (var i = 0; i < payload.Length; i++)
            {
                frame[at + i] = (byte)(payload[i] ^ mask[i % 4]);
            }
        }
        else
        {
            payload.CopyTo(frame.AsSpan(at));
        }

        return frame;
    }

    public static byte[] TextFrame(string text, bool fin = true) => Build(Text, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] BinaryFrame(ReadOnlySpan<byte> data, bool fin = true) => Build(Binary, data, fin);

    /// <summary>A close frame with any code (invalid ones too) and a reason; <paramref name="code"/> null for an empty payload.</summary>
    public static byte[] CloseFrame(int? code, string reason = "")
        => Build(Close, ClosePayload(code, Encoding.UTF8.GetBytes(reason)));

    /// <summary>A close payload: the code as two bytes, then the reason bytes as given (which need not be valid UTF-8).</summary>
    public static byte[] ClosePayload(int? code, ReadOnlySpan<byte> reason)
    {
        if (code is null)
        {
            return [];
        }

        var payload = new byte[2 + reason.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code.Value);
        reason.CopyTo(payload.AsSpan(2));
        return payload;
    }

    public static byte[] PingFrame(ReadOnlySpan<byte> data = default) => Build(Ping, data);

    public static byte[] PongFrame(ReadOnlySpan<byte> data = default) => Build(Pong, data);

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for a request's <c>Sec-WebSocket-Key</c>.</summary>
    public static string AcceptFor(string key)
    {
#pragma warning disable CA5350 // RFC 6455 mandates SHA-1 for Sec-WebSocket-Accept.
        return Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
    }
}
