using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Gateway.Host.Protocols;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>
/// The socket's state machine on a clock the test moves (<see cref="FakeTimeProvider"/>), against a
/// real upstream: every deadline fires when, and only when, the clock passes it.
/// </summary>
public sealed class StateMachineTests
{
    [Fact]
    public async Task Handshake_FakeClock_FailsExactlyWhenHandshakeTimeoutPassesThenBacksOff()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await UpstreamServer.StartIdleAsync();
        var protocol = new NeverReadyProtocol();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("HandshakeTimeout", "00:00:10"), ("Reconnect:MinDelay", "00:00:05"), ("Reconnect:MaxDelay", "00:00:05")),
            services => services.AddSingleton<TimeProvider>(clock).AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));

        await protocol.Started.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(SocketState.Handshaking, gateway.Status("a").State);
        clock.Advance(TimeSpan.FromSeconds(9.9));
        await Task.Delay(200);
        Assert.Equal(SocketState.Handshaking, gateway.Status("a").State);

        clock.Advance(TimeSpan.FromSeconds(0.2));
        await Eventually.TrueAsync(() => gateway.Status("a") is { State: SocketState.Waiting, ReconnectAttempt: 1 }, "the attempt failed and backs off");
        Assert.Contains("HandshakeTimeout", gateway.Status("a").LastError, StringComparison.Ordinal);
        Assert.Equal(1, server.ConnectionCount);

        // The 5 s backoff runs on the same clock: no new attempt until it passed.
        clock.Advance(TimeSpan.FromSeconds(4.9));
        await Task.Delay(200);
        Assert.Equal(1, server.ConnectionCount);
        clock.Advance(TimeSpan.FromSeconds(0.2));
        await Eventually.TrueAsync(() => server.ConnectionCount == 2, "the next attempt connected");
    }

    [Fact]
    public async Task ResetAfter_FakeClock_CountsFromReadyNotFromTheUpgrade()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await UpstreamServer.StartIdleAsync();
        var protocol = new NeverReadyProtocol();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("HandshakeTimeout", "00:01:00"), ("Reconnect:ResetAfter", "00:00:10")),
            services => services.AddSingleton<TimeProvider>(clock).AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));
        await protocol.Started.Task.WaitAsync(TimeSpan.FromSeconds(15));

        // 30 s of handshaking, then Ready for less than ResetAfter: the drop counts as a failed attempt.
        clock.Advance(TimeSpan.FromSeconds(30));
        protocol.MakeReady();
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "ready");
        clock.Advance(TimeSpan.FromSeconds(5));
        server.LastSession!.Abort();
        await Eventually.TrueAsync(() => gateway.Status("a") is { State: SocketState.Waiting, ReconnectAttempt: 1 }, "backing off as attempt 1");
    }

    [Fact]
    public async Task Worker_UnexpectedExceptionInAnAttempt_LoggedCountedAndRetriedAfterBackoff()
    {
        await using var server = await UpstreamServer.StartAsync(s => s.SendTextAsync("after the failure"));
        var protocol = new FailingOnceProtocol(new Gateway.Host.Protocols.Raw.RawProtocol(TimeProvider.System));
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url()),
            services => services.AddKeyedSingleton<IProtocol>(SocketProtocol.Raw, protocol));

        await Eventually.TrueAsync(() => gateway.Recorder.Frames.Count == 1, "the next attempt delivered");

        var failed = Assert.Single(gateway.Logs.WithEventId(117));
        Assert.IsType<InvalidOperationException>(failed.Exception);
        Assert.Equal(2, server.ConnectionCount);
        Assert.Equal(SocketState.Ready, gateway.Status("a").State);
        Assert.Equal("after the failure", gateway.Recorder.Frames.Single().Text);
    }

    /// <summary>Throws when the first session is created (a bug in a protocol), then behaves.</summary>
    private sealed class FailingOnceProtocol(IProtocol inner) : IProtocol
    {
        private int _calls;

        public IReadOnlyList<string> SubProtocols(SocketOptions options) => inner.SubProtocols(options);

        public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
            => Interlocked.Increment(ref _calls) == 1
                ? throw new InvalidOperationException("a bug in the protocol")
                : inner.CreateSession(connection, options);
    }

    /// <summary>A session that never becomes Ready by itself, only when told.</summary>
    private sealed class NeverReadyProtocol : IProtocol
    {
        private IProtocolConnection? _connection;

        /// <summary>The handshake began (its timeout runs from before this).</summary>
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<string> SubProtocols(SocketOptions options) => [];

        public IProtocolSession CreateSession(IProtocolConnection connection, SocketOptions options)
        {
            _connection = connection;
            return new Session(Started);
        }

        public void MakeReady() => _connection?.SetReady(true);

        private sealed class Session(TaskCompletionSource started) : PassThroughSession
        {
            public override ValueTask StartAsync(CancellationToken cancellationToken)
            {
                started.TrySetResult();
                return ValueTask.CompletedTask;
            }
        }
    }
}
