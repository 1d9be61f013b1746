using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class SocketOptionsDiffTests
{
    private static SocketOptions Socket(string url = "wss://feed.example.com/a", bool enabled = true, params string[] handlers)
        => new()
        {
            Url = new Uri(url),
            Enabled = enabled,
            Handlers = handlers.Length == 0 ? ["log"] : [.. handlers],
        };

    private static Dictionary<string, SocketOptions> Sockets(params (string Name, SocketOptions Options)[] sockets)
    {
        var result = new Dictionary<string, SocketOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, options) in sockets)
        {
            result[name] = options;
        }

        return result;
    }

    private static Dictionary<string, SocketOptions> Bind(params (string Key, string? Value)[] values)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value)))
            .Build();
        var options = new GatewayOptions();
        new GatewayOptionsSetup(configuration).Configure(options);
        Assert.Empty(options.BindErrors);
        return options.Sockets;
    }

    [Fact]
    public void Compute_SameSettingsInNewInstances_IsEmpty()
    {
        var before = Sockets(("a", Socket()), ("b", Socket("ws://other/")));
        var after = Sockets(("a", Socket()), ("b", Socket("ws://other/")));

        var diff = SocketOptionsDiff.Compute(before, after);

        Assert.True(diff.IsEmpty);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Removed);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.HandlersChanged);
    }

    [Fact]
    public void Compute_OnlyStompSubscriptionsAndHandlersChanged_AppliedInPlaceNotRestarted()
    {
        var before = Socket();
        before.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/a" });
        var after = Socket(handlers: "file");
        after.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/b" });
        var loginChanged = Socket();
        loginChanged.Stomp.Login = "other";

        var diff = SocketOptionsDiff.Compute(Sockets(("s", before), ("t", Socket())), Sockets(("s", after), ("t", loginChanged)));

        Assert.Equal(["s"], diff.SubscriptionsChanged);
        Assert.Equal(["s"], diff.HandlersChanged);
        Assert.Equal(["t"], diff.Changed); // anything else of Stomp reconnects
    }

    [Fact]
    public void Compute_NewSocket_IsAdded()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket())), Sockets(("a", Socket()), ("b", Socket())));

        Assert.Equal(["b"], diff.Added);
        Assert.Empty(diff.Removed);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.HandlersChanged);
        Assert.False(diff.IsEmpty);
    }

    [Fact]
    public void Compute_MissingSocket_IsRemoved()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket()), ("b", Socket())), Sockets(("b", Socket())));

        Assert.Equal(["a"], diff.Removed);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.HandlersChanged);
        Assert.False(diff.IsEmpty);
    }

    [Fact]
    public void Compute_UrlChanged_IsChanged()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket("wss://one/"))), Sockets(("a", Socket("wss://two/"))));

        Assert.Equal(["a"], diff.Changed);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Removed);
        Assert.Empty(diff.HandlersChanged);
    }

    [Fact]
    public void Compute_UrlCredentialsChanged_IsChanged()
    {
        // Uri.Equals ignores the user info: the password must count all the same.
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket("wss://u:one@h/"))), Sockets(("a", Socket("wss://u:two@h/"))));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_PhoenixParamsChanged_IsChangedButReorderedIsNot()
    {
        static SocketOptions WithParams(params (string Name, string Value)[] values)
        {
            var socket = Socket("wss://h/");
            foreach (var (name, value) in values)
            {
                socket.Phoenix.Params[name] = value;
            }

            return socket;
        }

        var before = Sockets(("a", WithParams(("token", "1"), ("vsn", "2"))));

        Assert.Equal(["a"], SocketOptionsDiff.Compute(before, Sockets(("a", WithParams(("token", "2"), ("vsn", "2"))))).Changed);
        Assert.True(SocketOptionsDiff.Compute(before, Sockets(("a", WithParams(("vsn", "2"), ("token", "1"))))).IsEmpty);
    }

    [Fact]
    public void Compute_QueueCapacityChanged_IsChanged()
    {
        var next = Socket();
        next.Queue.Capacity = 10;

        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket())), Sockets(("a", next)));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_ReconnectMinDelayChanged_IsChanged()
    {
        var next = Socket();
        next.Reconnect.MinDelay = TimeSpan.FromSeconds(1);

        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket())), Sockets(("a", next)));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_HeaderValueChanged_IsChanged()
    {
        var previous = Socket();
        previous.Headers["Authorization"] = "Bearer one";
        var next = Socket();
        next.Headers["Authorization"] = "Bearer two";

        var diff = SocketOptionsDiff.Compute(Sockets(("a", previous)), Sockets(("a", next)));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_HeaderAdded_IsChanged()
    {
        var next = Socket();
        next.Headers["X-Api-Key"] = "k";

        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket())), Sockets(("a", next)));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_SameHeadersInsertedInAnotherOrder_IsEmpty()
    {
        // A header moving between Defaults and the socket's own section changes the binding order only.
        var previous = Socket();
        previous.Headers["X-A"] = "1";
        previous.Headers["X-B"] = "2";
        var next = Socket();
        next.Headers["X-B"] = "2";
        next.Headers["X-A"] = "1";

        var diff = SocketOptionsDiff.Compute(Sockets(("a", previous)), Sockets(("a", next)));

        Assert.True(diff.IsEmpty, $"Changed: [{string.Join(", ", diff.Changed)}]");
    }

    [Fact]
    public void Compute_HeaderMovedFromSocketToDefaults_IsEmpty()
    {
        var before = Bind(
            ("Gateway:Defaults:Headers:X-B", "2"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Headers:X-A", "1"));
        var after = Bind(
            ("Gateway:Defaults:Headers:X-A", "1"),
            ("Gateway:Defaults:Headers:X-B", "2"),
            ("Gateway:Sockets:a:Url", "ws://h/"));
        Assert.Equal(before["a"].Headers.OrderBy(h => h.Key), after["a"].Headers.OrderBy(h => h.Key));

        var diff = SocketOptionsDiff.Compute(before, after);

        Assert.True(diff.IsEmpty, $"Changed: [{string.Join(", ", diff.Changed)}]");
    }

    [Fact]
    public void Compute_OptionsBoundTwiceFromSameConfiguration_IsEmpty()
    {
        (string, string?)[] values =
        [
            ("Gateway:Defaults:Headers:X-B", "2"),
            ("Gateway:Defaults:Handlers:0", "log"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Headers:X-A", "1"),
            ("Gateway:Sockets:a:OnConnect:0:Text", "sub"),
            ("Gateway:Sockets:b:Url", "ws://h/b"),
        ];

        var diff = SocketOptionsDiff.Compute(Bind(values), Bind(values));

        Assert.True(diff.IsEmpty);
    }

    [Fact]
    public void Compute_OnConnectMessageChanged_IsChanged()
    {
        var previous = Socket();
        previous.OnConnect.Add(new OnConnectMessage { Text = "subscribe a" });
        var next = Socket();
        next.OnConnect.Add(new OnConnectMessage { Text = "subscribe b" });

        var diff = SocketOptionsDiff.Compute(Sockets(("a", previous)), Sockets(("a", next)));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_SubProtocolAdded_IsChanged()
    {
        var next = Socket();
        next.SubProtocols.Add("v2.stomp");

        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket())), Sockets(("a", next)));

        Assert.Equal(["a"], diff.Changed);
    }

    [Fact]
    public void Compute_OnlyHandlersChanged_IsHandlersChangedNotChanged()
    {
        var diff = SocketOptionsDiff.Compute(
            Sockets(("a", Socket(handlers: ["log"]))),
            Sockets(("a", Socket(handlers: ["log", "file"]))));

        Assert.Equal(["a"], diff.HandlersChanged);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Removed);
        Assert.False(diff.IsEmpty);
    }

    [Fact]
    public void Compute_HandlersReordered_IsHandlersChanged()
    {
        var diff = SocketOptionsDiff.Compute(
            Sockets(("a", Socket(handlers: ["log", "file"]))),
            Sockets(("a", Socket(handlers: ["file", "log"]))));

        Assert.Equal(["a"], diff.HandlersChanged);
        Assert.Empty(diff.Changed);
    }

    [Fact]
    public void Compute_HandlersAndUrlChanged_IsChangedOnly()
    {
        var diff = SocketOptionsDiff.Compute(
            Sockets(("a", Socket("wss://one/", handlers: ["log"]))),
            Sockets(("a", Socket("wss://two/", handlers: ["file"]))));

        Assert.Equal(["a"], diff.Changed);
        Assert.Empty(diff.HandlersChanged);
    }

    [Fact]
    public void Compute_EnabledToDisabled_IsRemoved()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket())), Sockets(("a", Socket(enabled: false))));

        Assert.Equal(["a"], diff.Removed);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.HandlersChanged);
    }

    [Fact]
    public void Compute_DisabledToEnabled_IsAdded()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket(enabled: false))), Sockets(("a", Socket())));

        Assert.Equal(["a"], diff.Added);
        Assert.Empty(diff.Removed);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.HandlersChanged);
    }

    [Fact]
    public void Compute_DisabledToDisabledWithOtherSettings_IsEmpty()
    {
        var diff = SocketOptionsDiff.Compute(
            Sockets(("a", Socket("wss://one/", enabled: false))),
            Sockets(("a", Socket("wss://two/", enabled: false, handlers: ["file"]))));

        Assert.True(diff.IsEmpty);
    }

    [Fact]
    public void Compute_NewDisabledSocket_IsNotAdded()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(), Sockets(("a", Socket(enabled: false))));

        Assert.True(diff.IsEmpty);
    }

    [Fact]
    public void Compute_DisabledSocketDeleted_IsNotRemoved()
    {
        var diff = SocketOptionsDiff.Compute(Sockets(("a", Socket(enabled: false))), Sockets());

        Assert.True(diff.IsEmpty);
    }

    [Fact]
    public void Compute_MixedReload_SortsEachSocketIntoOneList()
    {
        var before = Sockets(
            ("same", Socket()),
            ("gone", Socket()),
            ("moved", Socket("wss://one/")),
            ("rehandled", Socket(handlers: ["log"])),
            ("paused", Socket()));
        var after = Sockets(
            ("same", Socket()),
            ("moved", Socket("wss://two/")),
            ("rehandled", Socket(handlers: ["file"])),
            ("paused", Socket(enabled: false)),
            ("fresh", Socket()));

        var diff = SocketOptionsDiff.Compute(before, after);

        Assert.Equal(["fresh"], diff.Added);
        Assert.Equal(["gone", "paused"], diff.Removed.Order(StringComparer.Ordinal));
        Assert.Equal(["moved"], diff.Changed);
        Assert.Equal(["rehandled"], diff.HandlersChanged);
    }

    [Fact]
    public void IsEmpty_AnyListNonEmpty_IsFalse()
    {
        string[] none = [];
        string[] one = ["a"];

        Assert.True(new SocketOptionsDiff(none, none, none, none).IsEmpty);
        Assert.False(new SocketOptionsDiff(one, none, none, none).IsEmpty);
        Assert.False(new SocketOptionsDiff(none, one, none, none).IsEmpty);
        Assert.False(new SocketOptionsDiff(none, none, one, none).IsEmpty);
        Assert.False(new SocketOptionsDiff(none, none, none, one).IsEmpty);
    }
}
