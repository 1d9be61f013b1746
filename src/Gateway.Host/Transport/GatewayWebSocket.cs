using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Gateway.Host.Transport;

/// <summary>
/// The gateway's client side of RFC 6455 over an already upgraded duplex stream, a drop-in for the
/// platform's managed <see cref="WebSocket"/> (same states, results and exceptions) with what the gateway
/// needs on top: an idle socket holds no receive buffer (a zero-byte receive parks on a zero-byte stream
/// read), every frame already buffered is parsed without touching the stream, a protocol violation throws
/// <see cref="GatewayWebSocketException"/> saying what the server did and which close code answered it, and
/// keep-alive pings are driven by a shared watchdog (<see cref="KeepAlive"/>) instead of a timer per socket.
/// With permessage-deflate negotiated (RFC 7692), compressed messages are inflated straight into the caller's
/// buffer and sends are deflated; the zlib state is created with the first compressed message and freed with the socket.
/// </summary>
/// <remarks>
/// Thread safety as the platform's: one receive and one send may run at the same time; pongs, keep-alive
/// pings and close frames queue behind the send in progress; <see cref="Abort"/> may be called from any thread.
/// </remarks>
internal sealed partial class GatewayWebSocket : WebSocket
{
    private static readonly WebSocketState[] s_receiveStates = [WebSocketState.Open, WebSocketState.CloseSent];
    private static readonly WebSocketState[] s_sendStates = [WebSocketState.Open, WebSocketState.CloseReceived];
    private static readonly WebSocketState[] s_closeStates = [WebSocketState.Open, WebSocketState.CloseReceived, WebSocketState.CloseSent];
    private static readonly Action<object?> s_abort = static s => ((GatewayWebSocket)s!).Abort();

    private readonly Stream _stream;
    private readonly string? _subProtocol;

    // permessage-deflate, when the server accepted it: the parameters, the receive side's inflater (used under
    // _receiveLock) and the send side's deflater (used under _deflaterLock, so disposal cannot race a send).
    private readonly DeflateParameters? _deflate;
    private readonly MessageInflater? _inflater;
    private readonly MessageDeflater? _deflater;

    // Its own lock only with a deflater (no other socket takes the shared one): 40 B less per socket without compression.
    private readonly Lock _deflaterLock = s_noDeflater;
    private static readonly Lock s_noDeflater = new();

    // Guards the state, the close flags and disposal (never held across an await).
    private readonly Lock _stateLock = new();
    private WebSocketState _state = WebSocketState.Open;
    private bool _disposed;
    private bool _closeStarted;
    private bool _closeSent;
    private volatile bool _closeReceived;
    private WebSocketCloseStatus _sentCloseStatus = WebSocketCloseStatus.Empty;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeStatusDescription;

    // Why the watchdog aborted the socket: the receive in progress (or the next) throws it.
    private volatile string? _abortReason;

    // Keep-alive, written by the watchdog; a pong (read on the receive side) clears _pingOutstanding.
    private long _lastPingTimestamp;
    private long _pingSentTimestamp;
    private volatile bool _pingOutstanding;

    /// <param name="stream">The stream of the HTTP 101 response; the socket owns it and disposes it once closed or aborted.</param>
    /// <param name="subProtocol">The subprotocol the server chose, if any.</param>
    /// <param name="deflate">The permessage-deflate parameters the server accepted; null: no compression.</param>
    public GatewayWebSocket(Stream stream, string? subProtocol, DeflateParameters? deflate = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _subProtocol = subProtocol;
        if (deflate is not null)
        {
            _deflate = deflate;
            _inflater = new MessageInflater();
            _deflater = deflate.CanCompressSends ? new MessageDeflater(deflate.ClientNoContextTakeover) : null;
            _deflaterLock = _deflater is null ? s_noDeflater : new Lock();
        }
    }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;

    /// <summary>A keep-alive ping is waiting for its pong; for tests.</summary>
    internal bool PingOutstanding => _pingOutstanding;

    public override string? CloseStatusDescription => _closeStatusDescription;

    public override WebSocketState State => _state;

    public override string? SubProtocol => _subProtocol;

    /// <summary>
    /// Called by the shared watchdog (every ~250 ms): sends a ping once <paramref name="interval"/> has passed
    /// since the last one and none is outstanding, and aborts the socket when a ping has waited longer than
    /// <paramref name="timeout"/> for a pong (any pong counts), so that the pending receive throws
    /// <see cref="GatewayWebSocketException"/> ("no pong within KeepAliveTimeout 10 s"). The first call only
    /// starts the clock. Never throws and never blocks: the ping is written in the background, queued behind
    /// the frame being written.
    /// </summary>
    /// <param name="nowTimestamp">Now, from <paramref name="time"/>'s <see cref="TimeProvider.GetTimestamp"/>.</param>
    /// <param name="interval">Time between pings; zero or less disables keep-alive.</param>
    /// <param name="timeout">How long a ping may wait for its pong; zero or less: forever.</param>
    /// <param name="time">The clock of <paramref name="nowTimestamp"/>.</param>
    public void KeepAlive(long nowTimestamp, TimeSpan interval, TimeSpan timeout, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (interval <= TimeSpan.Zero || _state is WebSocketState.Closed or WebSocketState.Aborted)
        {
            return;
        }

        if (_state == WebSocketState.CloseSent && !_pingOutstanding)
        {
            // Our close is as good as a ping: a peer that does not answer it within the timeout is dead too.
            _pingOutstanding = true;
            _pingSentTimestamp = nowTimestamp;
            return;
        }

        if (_pingOutstanding)
        {
            if (timeout > TimeSpan.Zero && time.GetElapsedTime(_pingSentTimestamp, nowTimestamp) > timeout)
            {
                AbortWith(string.Create(CultureInfo.InvariantCulture, $"no pong within KeepAliveTimeout {timeout.TotalSeconds:0.###} s"));
            }

            return;
        }

        if (_lastPingTimestamp == 0)
        {
            _lastPingTimestamp = nowTimestamp;
            return;
        }

        if (_state == WebSocketState.Open && time.GetElapsedTime(_lastPingTimestamp, nowTimestamp) >= interval)
        {
            _lastPingTimestamp = nowTimestamp;
            _pingSentTimestamp = nowTimestamp;
            _pingOutstanding = true;
            _ = SendPingAsync();
        }
    }

    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        ValidateCloseStatus(closeStatus, statusDescription);
        return CloseOutputCoreAsync(closeStatus, statusDescription, cancellationToken);
    }

    public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        ValidateCloseStatus(closeStatus, statusDescription);
        try
        {
            ThrowIfInvalidState(s_closeStates);
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }

        return CloseCoreAsync(closeStatus, statusDescription, cancellationToken);
    }

    public override void Abort()
    {
        lock (_stateLock)
        {
            if (_state is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                _state = WebSocketState.Aborted;
            }
        }

        Dispose();
    }

    public override void Dispose()
    {
        lock (_stateLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_state < WebSocketState.Closed)
            {
                _state = WebSocketState.Closed;
            }
        }

        _stream.Dispose();

        // A receive in progress returns its buffer (and frees the inflater) itself when the stream fails under it.
        if (_receiveLock.Wait(0))
        {
            ReturnReceiveBuffer();
            _inflater?.Dispose();
            _receiveLock.Release();
        }

        if (_deflater is not null)
        {
            lock (_deflaterLock)
            {
                _deflater.Dispose();
            }
        }
    }

    private async Task CloseOutputCoreAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        ThrowIfInvalidState(s_sendStates);
        await SendCloseFrameAsync(closeStatus, statusDescription, cancellationToken).ConfigureAwait(false);
    }

    private async Task CloseCoreAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        await SendCloseFrameAsync(closeStatus, statusDescription, cancellationToken).ConfigureAwait(false);
        if (_state == WebSocketState.CloseSent)
        {
            // Drain (and drop) whatever the server still sends until its close frame.
            var scratch = ArrayPool<byte>.Shared.Rent(1024);
            try
            {
                while (!_closeReceived)
                {
                    try
                    {
                        await _receiveLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        Abort();
                        throw;
                    }

                    if (_closeReceived || _state != WebSocketState.CloseSent)
                    {
                        _receiveLock.Release();
                        break;
                    }

                    await ReceiveLockedAsync(scratch, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }

        Dispose();
    }

    /// <summary>Sends our close frame unless one was already started (then it only waits for nothing).</summary>
    private async ValueTask SendCloseFrameAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        lock (_stateLock)
        {
            if (_closeStarted)
            {
                return;
            }

            _closeStarted = true;
            _sentCloseStatus = closeStatus;
        }

        // An empty status goes out as an empty payload (RFC 6455 5.5.1), not as code 1005.
        var length = closeStatus == WebSocketCloseStatus.Empty ? 0 : 2 + (statusDescription is null ? 0 : Encoding.UTF8.GetByteCount(statusDescription));
        var payload = ArrayPool<byte>.Shared.Rent(Math.Max(length, 2));
        try
        {
            if (length > 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)closeStatus);
                if (length > 2)
                {
                    Encoding.UTF8.GetBytes(statusDescription, payload.AsSpan(2));
                }
            }

            await SendFrameAsync(Opcode.Close, fin: true, payload.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_stateLock)
            {
                _closeStarted = false;
            }

            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }

        bool closed;
        lock (_stateLock)
        {
            _closeSent = true;
            closed = _closeReceived;
            if (_state < WebSocketState.CloseSent)
            {
                _state = WebSocketState.CloseSent;
            }
            else if (closed && _state < WebSocketState.Closed)
            {
                _state = WebSocketState.Closed;
            }
        }

        if (closed)
        {
            Dispose();
        }
    }

    /// <summary>Records the server's close frame; once both close frames have passed, the stream goes.</summary>
    private void OnCloseReceived(WebSocketCloseStatus status, string description)
    {
        bool closed;
        lock (_stateLock)
        {
            _closeStatus = status;
            _closeStatusDescription = description;
            _closeReceived = true;
            closed = _closeSent;
            if (_state < WebSocketState.Closed)
            {
                _state = closed ? WebSocketState.Closed : WebSocketState.CloseReceived;
            }
        }

        if (closed)
        {
            Dispose();
        }
    }

    private void AbortWith(string reason)
    {
        _abortReason = reason;
        Abort();
    }

    /// <summary>Fails a receive or send that found the socket aborted, the way the platform's socket does.</summary>
    private Exception AbortedException(Exception inner, CancellationToken cancellationToken)
        => _abortReason is { } reason
            ? GatewayWebSocketException.Throwable(reason, WebSocketCloseStatus.Empty, DisconnectKind.KeepAliveTimeout)
            : new OperationCanceledException(nameof(WebSocketState.Aborted), inner, cancellationToken);

    private void MarkAborted()
    {
        lock (_stateLock)
        {
            if (_state is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                _state = WebSocketState.Aborted;
            }
        }
    }

    private void ThrowIfInvalidState(WebSocketState[] validStates)
    {
        if (_abortReason is { } reason && _state == WebSocketState.Aborted)
        {
            throw GatewayWebSocketException.Throwable(reason, WebSocketCloseStatus.Empty, DisconnectKind.KeepAliveTimeout);
        }

        ThrowOnInvalidState(_state, validStates);
        ObjectDisposedException.ThrowIf(_disposed, this);
    }

    /// <summary>The platform's checks: no reserved or "never sent" code, no text without a code, at most 123 bytes of text.</summary>
    private static void ValidateCloseStatus(WebSocketCloseStatus closeStatus, string? statusDescription)
    {
        if (closeStatus == WebSocketCloseStatus.Empty && !string.IsNullOrEmpty(statusDescription))
        {
            throw new ArgumentException("A close with status Empty carries no description.", nameof(statusDescription));
        }

        var code = (int)closeStatus;
        if (code is (>= 0 and < 1000) or 1006 or 1015)
        {
            throw new ArgumentException($"Close status {code} is reserved and cannot be sent.", nameof(closeStatus));
        }

        if (statusDescription is not null && Encoding.UTF8.GetByteCount(statusDescription) > 123)
        {
            throw new ArgumentException("The close description is longer than 123 UTF-8 bytes.", nameof(statusDescription));
        }
    }
}
