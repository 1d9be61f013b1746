using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Gateway.Host.Health;
using Gateway.Host.Metrics;
using Gateway.Host.Protocols;
using Gateway.Host.Transport;

namespace Gateway.Host.Sockets;

internal sealed partial class SocketConnection
{
    /// <summary>Runs the session's handshake until it sets Ready, within <c>HandshakeTimeout</c>.</summary>
    private async Task<bool> HandshakeAsync(LiveConnection live, Task receiving, Activity? span)
    {
        // Not linked with live.Token: the connection's source is cancelled only after the receive loop ended,
        // which ends this wait anyway, and a link would leave its callback node on that source for the connection's life.
        using var timeout = new CancellationTokenSource(Options.HandshakeTimeout, _time);
        try
        {
            await live.Session.StartAsync(timeout.Token).ConfigureAwait(false);
            var done = await Task.WhenAny(live.Ready, receiving).WaitAsync(timeout.Token).ConfigureAwait(false);
            return done == live.Ready && !live.Token.IsCancellationRequested;
        }
        catch (Exception ex) when (timeout.IsCancellationRequested || ex is not OperationCanceledException)
        {
            var why = timeout.IsCancellationRequested
                ? $"handshake not completed within {Options.HandshakeTimeout.TotalSeconds:0.###} s (HandshakeTimeout)"
                : $"handshake failed: {ex.Message}";
            var errorType = timeout.IsCancellationRequested ? "handshake_timeout" : "handshake";
            _metrics.ConnectionFailed(Name, Status.Protocol, errorType);
            GatewayTelemetry.Failed(span, ex, errorType, null);
            Status.RecordError(why, null);
            live.Fail(WebSocketCloseStatus.PolicyViolation, why);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false; // the connection ended during the handshake; the receive loop says why
        }
    }

    /// <summary>
    /// One open connection as its protocol session sees it. A session keeps this, never the socket
    /// worker, so a session of an ended connection cannot touch the next one.
    /// </summary>
    private sealed class LiveConnection : IProtocolConnection
    {
        private static readonly TimeSpan s_failCloseTimeout = TimeSpan.FromSeconds(1);

        private readonly SocketConnection _owner;
        // Also the lock of the readiness below (never handed out; a Lock of its own would cost 40 B per connection).
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _failed;
        private int _announced;

        public LiveConnection(SocketConnection owner, WebSocket socket, CancellationToken token)
        {
            _owner = owner;
            Socket = socket;
            Token = token;
            RoomWaitAtStart = owner.Dispatcher.RoomWaitTicks(owner._time.GetTimestamp());
            Session = owner._protocol.CreateSession(this, owner.Options);
        }

        public WebSocket Socket { get; }

        /// <summary>Cancelled when the connection ended.</summary>
        public CancellationToken Token { get; }

        public IProtocolSession Session { get; }

        /// <summary>The dispatcher's wait for room before this connection: the session's clock starts from here.</summary>
        public long RoomWaitAtStart { get; }

        public Task Ready => _ready.Task;

        public Task<DisconnectReason>? Receiving { get; set; }

        public string SocketName => _owner.Name;

        public FrameBufferPool Pool => _owner._pool;

        public IReadOnlyList<SubscriptionStatus> Subscriptions => _owner.Status.Subscriptions;

        /// <summary>
        /// The first of the receive loop (a frame) and the Ready transition claims the connection's
        /// announcement: a Connected item queued behind frames would take a queue slot for nothing.
        /// </summary>
        public bool TryClaimAnnouncement() => Volatile.Read(ref _announced) == 0 && Interlocked.Exchange(ref _announced, 1) == 0;

        public ValueTask SendControlAsync(ReadOnlyMemory<byte> message, FrameKind kind, CancellationToken cancellationToken)
            => _owner.Outbound.SendControlAsync(Socket, message, kind, cancellationToken);

        public void PostControl(ReadOnlyMemory<byte> message, FrameKind kind)
        {
            if (!Token.IsCancellationRequested && !_owner.Outbound.PostControl(Socket, message, kind, Token))
            {
                Fail(WebSocketCloseStatus.PolicyViolation, "the server stopped reading: too many control messages waiting to be written");
            }
        }

        public void SetReady(bool ready, string? detail = null)
        {
            if (Token.IsCancellationRequested)
            {
                return;
            }

            lock (_ready)
            {
                // After the handshake the session may take readiness back (a Phoenix channel lost) and give it again.
                _notReady = ready ? null : detail ?? string.Empty;
                if (!_handshakeDone)
                {
                    if (ready)
                    {
                        _ready.TrySetResult();
                    }
                    else
                    {
                        _owner.SetState(SocketState.Handshaking, 0, detail);
                    }
                }
                else
                {
                    // Sends wait in the queue while not Ready (a Phoenix topic rejoining), then go with the new state.
                    _owner.Outbound.SetPaused(!ready);
                    _owner.SetState(ready ? SocketState.Ready : SocketState.Handshaking, 0, detail);
                }
            }
        }

        private bool _handshakeDone;
        private string? _notReady;

        /// <summary>The handshake is over: sends flow and the socket is Ready, unless the session took readiness back meanwhile.</summary>
        public void EnterReady(CancellationToken connectionToken)
        {
            lock (_ready)
            {
                _handshakeDone = true;
                _owner.Outbound.Attach(Socket, Session, connectionToken, paused: _notReady is not null);
                _owner.SetState(_notReady is null ? SocketState.Ready : SocketState.Handshaking, 0, _notReady is { Length: > 0 } detail ? detail : null);
            }
        }

        public void CompleteReply(long replyKey, SendStatus status, ReadOnlySpan<byte> reply)
            => _owner.Outbound.CompleteReply(replyKey, status, reply);

        public void Fail(WebSocketCloseStatus status, string reason, DisconnectKind kind = DisconnectKind.ProtocolFailed)
        {
            if (Interlocked.Exchange(ref _failed, 1) != 0 || Token.IsCancellationRequested)
            {
                return;
            }

            _owner._closedByGateway ??= new DisconnectReason(status, reason, null, ClosedByGateway: true) { Kind = kind };
            Log.ConnectionFailed(_owner._logger, _owner.Name, reason, (int)status);
            _ = CloseAsync(status, reason);
        }

        /// <summary>The protocol's goodbye, within <paramref name="timeout"/>; a failed goodbye does not stop the close.</summary>
        public async Task GoodbyeAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout, _owner._time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, Token);
            try
            {
                await Session.GoodbyeAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (Token.IsCancellationRequested && !cts.IsCancellationRequested)
            {
                // The server ended the connection in answer: RabbitMQ closes with 1000 instead of sending the
                // RECEIPT a STOMP DISCONNECT asks for. Either ends the goodbye; the disconnect is logged as usual.
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
            {
                Log.GoodbyeFailed(_owner._logger, _owner.Name, ex.Message);
            }
        }

        // A dead or misbehaving peer gets a close frame and a moment to answer it, then the connection is dropped.
        private async Task CloseAsync(WebSocketCloseStatus status, string reason)
        {
            await _owner.Outbound.CloseOutputAsync(Socket, status, Truncate(reason), s_failCloseTimeout).ConfigureAwait(false);
            if (Receiving is { } receiving)
            {
                await Task.WhenAny(receiving, Task.Delay(s_failCloseTimeout, _owner._time)).ConfigureAwait(false);
            }

            Socket.Abort();
        }

        // A close frame's reason is at most 123 bytes of UTF-8.
        private static string Truncate(string reason)
        {
            if (Encoding.UTF8.GetByteCount(reason) <= 123)
            {
                return reason;
            }

            var length = Math.Min(reason.Length, 123);
            while (Encoding.UTF8.GetByteCount(reason.AsSpan(0, length)) > 123)
            {
                length--;
            }

            return reason[..length];
        }
    }
}
