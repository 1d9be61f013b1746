using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed class ConnectHookInvokerTests
{
    private static readonly Uri s_configured = new("wss://feed.example.com:8443/v1/stream?v=2");

    [Theory]
    [InlineData("wss://feed.example.com:8443/v1/stream?v=2")]
    [InlineData("wss://feed.example.com:8443/v1/stream?v=2&token=abc")]
    [InlineData("wss://feed.example.com:8443/v1/stream")]
    [InlineData("WSS://FEED.example.com:8443/v1/stream?token=x")]
    public void OnlyQueryChanged_SameEndpoint_IsTrue(string after)
        => Assert.True(ConnectHookInvoker.OnlyQueryChanged(s_configured, new Uri(after)));

    [Theory]
    [InlineData("ws://feed.example.com:8443/v1/stream?v=2")]
    [InlineData("wss://other.example.com:8443/v1/stream?v=2")]
    [InlineData("wss://feed.example.com:9443/v1/stream?v=2")]
    [InlineData("wss://feed.example.com/v1/stream?v=2")]
    [InlineData("wss://feed.example.com:8443/v2/stream?v=2")]
    [InlineData("wss://feed.example.com:8443/V1/stream?v=2")]
    [InlineData("wss://user:pw@feed.example.com:8443/v1/stream?v=2")]
    [InlineData("wss://feed.example.com:8443/v1/stream?v=2#frag")]
    public void OnlyQueryChanged_OtherEndpoint_IsFalse(string after)
        => Assert.False(ConnectHookInvoker.OnlyQueryChanged(s_configured, new Uri(after)));

    [Fact]
    public void OnlyQueryChanged_RelativeUrl_IsFalse()
        => Assert.False(ConnectHookInvoker.OnlyQueryChanged(s_configured, new Uri("/v1/stream?token=x", UriKind.Relative)));

    [Fact]
    public async Task RunAsync_HookSetsHeadersAndQuery_ReturnsThemAndSeesConfiguredHeaders()
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["X-Tenant"] = "acme", ["X-Old"] = "1" };
        var hook = new DelegateHook(context =>
        {
            Assert.Equal("prices", context.SocketName);
            Assert.Equal(3, context.Attempt);
            Assert.Equal("acme", context.Headers["x-tenant"]);
            context.Headers["Authorization"] = "Bearer fresh";
            context.Headers.Remove("X-Old");
            context.Url = new UriBuilder(context.Url) { Query = "v=2&token=fresh" }.Uri;
            return ValueTask.CompletedTask;
        });

        var url = await ConnectHookInvoker.RunAsync(hook, "tokens", "prices", 3, s_configured, headers, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal("?v=2&token=fresh", url.Query);
        Assert.Equal(["Authorization", "X-Tenant"], headers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("Bearer fresh", headers["authorization"]);
    }

    [Fact]
    public async Task RunAsync_HookChangesPath_ThrowsConnectExceptionWithRedactedUrls()
    {
        var hook = new DelegateHook(context =>
        {
            context.Url = new Uri("wss://feed.example.com:8443/admin?token=s3cret");
            return ValueTask.CompletedTask;
        });

        var ex = await Assert.ThrowsAsync<ConnectException>(() => ConnectHookInvoker.RunAsync(hook, "tokens", "prices", 0, s_configured, [], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Equal(ConnectHookInvoker.ErrorType, ex.ErrorType);
        Assert.Equal("connect hook 'tokens' changed the URL to wss://feed.example.com:8443/admin?redacted; a connect hook may change only the query of wss://feed.example.com:8443/v1/stream?redacted", ex.Message);
    }

    [Fact]
    public async Task RunAsync_HookSetsLineBreakInHeader_ThrowsWithoutEchoingValue()
    {
        var hook = new DelegateHook(context =>
        {
            context.Headers["Authorization"] = "Bearer s3cret\r\nX-Evil: 1";
            return ValueTask.CompletedTask;
        });

        var ex = await Assert.ThrowsAsync<ConnectException>(() => ConnectHookInvoker.RunAsync(hook, "tokens", "prices", 0, s_configured, [], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Equal("connect hook 'tokens' set the header Authorization to a value with a line break", ex.Message);
    }

    [Fact]
    public async Task RunAsync_HookIgnoresCancellation_TimesOutAsConnectException()
    {
        var hook = new DelegateHook(_ => new ValueTask(Task.Delay(Timeout.Infinite, CancellationToken.None)));

        var ex = await Assert.ThrowsAsync<ConnectException>(() => ConnectHookInvoker.RunAsync(hook, "tokens", "prices", 0, s_configured, [], TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken));

        Assert.Equal("connect hook 'tokens' did not complete within ConnectTimeout (0.1 s)", ex.Message);
    }

    [Fact]
    public async Task RunAsync_SocketStopping_ThrowsOperationCanceled()
    {
        using var stopping = new CancellationTokenSource();
        var hook = new DelegateHook(_ =>
        {
            stopping.Cancel();
            throw new InvalidOperationException("token service went away");
        });

        await Assert.ThrowsAsync<OperationCanceledException>(() => ConnectHookInvoker.RunAsync(hook, "tokens", "prices", 0, s_configured, [], TimeSpan.FromSeconds(5), stopping.Token));
    }

    private sealed class DelegateHook(Func<ConnectContext, ValueTask> onConnecting) : IConnectHook
    {
        public ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken) => onConnecting(context);
    }
}
