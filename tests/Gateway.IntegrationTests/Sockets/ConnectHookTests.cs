using System.Collections.Concurrent;
using Gateway.Host.Health;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Tag = System.Collections.Generic.KeyValuePair<string, object?>;

namespace Gateway.IntegrationTests.Sockets;

/// <summary>A connect hook runs before every attempt, over a real socket: fresh headers and query each time, failures fail the attempt.</summary>
public sealed class ConnectHookTests
{
    [Fact]
    public async Task Connect_HookSetsHeaderAndQuery_EachAttemptSendsFreshValuesKeptOutOfLogs()
    {
        var seen = new ConcurrentQueue<(string Token, string Tenant, string Sig, string V)>();
        await using var server = await UpstreamServer.StartAsync(async s =>
        {
            // Read while the request is alive: Kestrel reuses it once the connection ended.
            var request = s.Context.Request;
            seen.Enqueue((request.Headers["X-Token"].ToString(), request.Headers["X-Tenant"].ToString(), request.Query["sig"].ToString(), request.Query["v"].ToString()));
            if (s.Number == 1)
            {
                // Let the gateway settle on the connection, then drop it without a close frame.
                await Task.Delay(300);
                s.Abort();
            }
        });
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url("/ws?v=2"), ("ConnectHook", "tokens"), ("Headers:X-Tenant", "acme")),
            services => services.AddConnectHook<TokenHook>("tokens"));

        await Eventually.TrueAsync(() => seen.Count == 2, "the gateway reconnected after the drop");
        var (first, second) = (seen.First(), seen.Last());
        Assert.Equal(("token-1", "acme", "secret-1", "2"), first);
        Assert.StartsWith("token-", second.Token, StringComparison.Ordinal);
        Assert.NotEqual("token-1", second.Token);
        Assert.Equal(second.Token.Replace("token-", "secret-", StringComparison.Ordinal), second.Sig);
        Assert.Equal(("acme", "2"), (second.Tenant, second.V));

        var hook = gateway.Services.GetRequiredService<TokenHook>();
        var calls = hook.Calls.ToArray();
        Assert.Equal(("a", 0, "acme"), calls[0]);
        Assert.True(calls[1].Attempt > 0);

        // Neither the hook's header values nor its query values reach logs or health output.
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "ready again");
        var json = await gateway.Http.GetStringAsync("/health/ready", TestContext.Current.CancellationToken);
        foreach (var text in gateway.Logs.GetSnapshot().Select(e => e.Message).Append(json))
        {
            Assert.DoesNotContain("token-", text, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Connect_HookThrowsOnFirstAttempt_AttemptFailsThenNextSucceeds()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = GatewayTestHost.Create(
            new TestConfig().Socket("a", server.Url(), ("ConnectHook", "flaky")),
            services => services.AddConnectHook<FlakyHook>("flaky"));
        using var failures = gateway.CollectMetric<long>("gateway.socket.connection_failures");
        await gateway.StartAsync();
        var hook = gateway.Services.GetRequiredService<FlakyHook>();

        // The second call waits for the test, so the first failure can be inspected before it is cleared.
        await Eventually.TrueAsync(() => hook.CallCount == 2, "the hook was called again after the failed attempt");
        Assert.Equal(0, server.ConnectionCount);
        var status = gateway.Status("a");
        Assert.Contains("connect hook 'flaky' failed: token service unavailable", status.LastError, StringComparison.Ordinal);
        Assert.Null(status.LastHttpStatus);
        var logged = Assert.Single(gateway.Logs.WithEventId(102));
        Assert.Contains("token service unavailable", logged.Message, StringComparison.Ordinal);
        var measured = failures.GetMeasurementSnapshot().ContainsTags(new Tag("gateway.socket", "a"), new Tag("error.type", "connect_hook"));
        Assert.Equal(1, measured.EvaluateAsCounter());
        Assert.Contains(gateway.Logs.WithEventId(104), e => e.Message.Contains("attempt 1", StringComparison.Ordinal));

        hook.Release.SetResult();
        await Eventually.TrueAsync(() => gateway.Status("a").State == SocketState.Ready, "connected on the second attempt");
        Assert.Equal(1, server.ConnectionCount);
        Assert.Null(gateway.Status("a").LastError);
    }

    [Theory]
    [InlineData("host")]
    [InlineData("port")]
    [InlineData("path")]
    [InlineData("scheme")]
    public async Task Connect_HookChangesEndpoint_AttemptFailsAndRedactedUrlShown(string change)
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("ConnectHook", "redirect")),
            services => services.AddConnectHook<RedirectHook>("redirect").AddSingleton(new RedirectHook.Change(change)));
        var hook = gateway.Services.GetRequiredService<RedirectHook>();

        await Eventually.TrueAsync(() => hook.CallCount >= 2 && gateway.Logs.WithEventId(102).Count >= 2, "two attempts failed");
        Assert.Equal(0, server.ConnectionCount);
        var error = gateway.Status("a").LastError;
        Assert.NotNull(error);
        Assert.Contains("connect hook 'redirect' changed the URL to ", error, StringComparison.Ordinal);
        Assert.Contains($"; a connect hook may change only the query of {server.Url()}", error, StringComparison.Ordinal);
        Assert.Contains("?redacted", error, StringComparison.Ordinal);
        Assert.NotEqual(SocketState.Ready, gateway.Status("a").State);
        foreach (var text in gateway.Logs.GetSnapshot().Select(e => e.Message).Append(error))
        {
            Assert.DoesNotContain("s3cret", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Stop_HookIgnoringCancellation_StopsPromptly()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("ConnectHook", "stuck"), ("ConnectTimeout", "00:01:00")),
            services => services.AddConnectHook<StuckHook>("stuck"));
        var hook = gateway.Services.GetRequiredService<StuckHook>();
        await hook.Entered.Task.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        var stop = gateway.DisposeAsync().AsTask();

        // Well under ConnectTimeout (1 min) and ShutdownTimeout (5 s): the stuck call is abandoned at once.
        await stop.WaitAsync(TimeSpan.FromSeconds(4), TestContext.Current.CancellationToken);
        Assert.Equal(0, server.ConnectionCount);
        Assert.Empty(gateway.Logs.WithEventId(102));
    }

    [Fact]
    public async Task Connect_HookSlowerThanConnectTimeout_AttemptFailsWithTimeout()
    {
        await using var server = await UpstreamServer.StartIdleAsync();
        await using var gateway = await GatewayTestHost.StartAsync(
            new TestConfig().Socket("a", server.Url(), ("ConnectHook", "stuck"), ("ConnectTimeout", "00:00:00.200")),
            services => services.AddConnectHook<StuckHook>("stuck"));

        await Eventually.TrueAsync(() => gateway.Logs.WithEventId(102).Count >= 1, "the attempt failed");
        Assert.Contains("connect hook 'stuck' did not complete within ConnectTimeout (0.2 s)", gateway.Logs.WithEventId(102)[0].Message, StringComparison.Ordinal);
        Assert.Equal(0, server.ConnectionCount);
    }

    private sealed class TokenHook : IConnectHook
    {
        private int _count;

        public ConcurrentQueue<(string Socket, int Attempt, string? Tenant)> Calls { get; } = new();

        public ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _count);
            Calls.Enqueue((context.SocketName, context.Attempt, context.Headers.TryGetValue("x-tenant", out var tenant) ? tenant : null));
            context.Headers["X-Token"] = $"token-{n}";
            context.Url = new UriBuilder(context.Url) { Query = $"{context.Url.Query.TrimStart('?')}&sig=secret-{n}" }.Uri;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class FlakyHook : IConnectHook
    {
        private int _count;

        public int CallCount => Volatile.Read(ref _count);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _count) == 1)
            {
                throw new InvalidOperationException("token service unavailable");
            }

            await Release.Task.WaitAsync(cancellationToken);
        }
    }

    private sealed class RedirectHook(RedirectHook.Change change) : IConnectHook
    {
        private int _count;

        public int CallCount => Volatile.Read(ref _count);

        public ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            var url = new UriBuilder(context.Url) { Query = "token=s3cret" };
            switch (change.What)
            {
                case "host": url.Host = "localhost"; break;
                case "port": url.Port++; break;
                case "path": url.Path = "/other"; break;
                default: url.Scheme = "wss"; break;
            }

            context.Url = url.Uri;
            return ValueTask.CompletedTask;
        }

        public sealed record Change(string What);
    }

    private sealed class StuckHook : IConnectHook
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();

            // Ignores its token, as a careless hook might.
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
        }
    }
}
