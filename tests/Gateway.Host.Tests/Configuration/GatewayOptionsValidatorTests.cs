using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class GatewayOptionsValidatorTests
{
    private readonly GatewayOptionsValidator _validator;

    public GatewayOptionsValidatorTests()
    {
        var services = new ServiceCollection()
            .AddFrameHandler<NoopFrameHandler>("log")
            .AddFrameHandler<NoopFrameHandler>("file")
            .AddOutboundEncoder<Gateway.Host.Sockets.JsonOutboundEncoder>("json")
            .AddConnectHook<NoopConnectHook>("refresh")
            .AddKeyedSingleton<Gateway.Host.Protocols.IProtocol, Gateway.Host.Protocols.Raw.RawProtocol>(SocketProtocol.Raw)
            .BuildServiceProvider();
        _validator = new GatewayOptionsValidator(services.GetRequiredService<IServiceProviderIsKeyedService>());
    }

    private static SocketOptions ValidSocket() => new()
    {
        Url = new Uri("wss://feed.example.com/prices"),
        Handlers = ["log"],
    };

    private static GatewayOptions With(string name, SocketOptions socket)
    {
        var options = new GatewayOptions();
        options.Sockets[name] = socket;
        return options;
    }

    private List<string> ErrorsFor(SocketOptions socket, string name = "a") => _validator.GetErrors(With(name, socket));

    [Fact]
    public void GetErrors_ValidConfiguration_ReturnsNoErrors()
    {
        var socket = ValidSocket();
        socket.Handlers = ["log", "file"];
        socket.Headers["Authorization"] = "Bearer abc";
        socket.SubProtocols.Add("v12.stomp");
        socket.Groups.Add("market");
        socket.OnConnect.Add(new OnConnectMessage { Text = "subscribe" });
        socket.OnConnect.Add(new OnConnectMessage { Binary = "AQID" });
        socket.NoMessageTimeout = TimeSpan.FromSeconds(30);
        socket.Reconnect.MaxAttempts = 1;
        var options = With("prices.eu_1-b", socket);
        options.Sockets["ws"] = new SocketOptions { Url = new Uri("ws://localhost:5000/"), Handlers = ["file"] };

        Assert.Empty(_validator.GetErrors(options));
    }

    [Fact]
    public void GetErrors_NoSockets_ReturnsNoErrors()
    {
        Assert.Empty(_validator.GetErrors(new GatewayOptions()));
    }

    [Fact]
    public void GetErrors_HttpUrl_NamesKeyAndUrl()
    {
        var socket = ValidSocket();
        socket.Url = new Uri("http://x");

        Assert.Equal(["Gateway:Sockets:prices:Url: 'http://x' is not a ws:// or wss:// URL, nor a path on this gateway (/demo/ticks)"], ErrorsFor(socket, "prices"));
    }

    [Fact]
    public void GetErrors_RelativeUrl_NamesKeyAndUrl()
    {
        var socket = ValidSocket();
        socket.Url = new Uri("feed/prices", UriKind.Relative);

        Assert.Equal(["Gateway:Sockets:a:Url: 'feed/prices' is not a ws:// or wss:// URL, nor a path on this gateway (/demo/ticks)"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_UrlThatDidNotBind_ReportedOnceNotAlsoAsMissing()
    {
        var options = new GatewayOptions();
        options.BindErrors.Add("Gateway:Sockets:a:Url: 'ws://127.0.0.1:99999/' is not a URL");
        options.Sockets["a"] = ValidSocket();
        options.Sockets["a"].Url = null;

        Assert.Equal(["Gateway:Sockets:a:Url: 'ws://127.0.0.1:99999/' is not a URL"], _validator.GetErrors(options));
    }

    [Fact]
    public void GetErrors_NegativeHeartbeatTimeoutWhileHeartbeatOff_Rejected()
    {
        var socket = ValidSocket();
        socket.Heartbeat.Timeout = TimeSpan.FromSeconds(-1);

        Assert.Contains(ErrorsFor(socket), e => e.StartsWith("Gateway:Sockets:a:Heartbeat:Timeout:", StringComparison.Ordinal));
    }

    [Fact]
    public void GetErrors_StompSubscriptionsWithoutDestinationOrWithARepeatedId_EachNamed()
    {
        var socket = ValidSocket();
        socket.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/a", Id = "s" });
        socket.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = " " });
        socket.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/b", Id = "s", StaleAfter = TimeSpan.Zero });
        socket.Stomp.HeartBeat.Incoming = TimeSpan.FromSeconds(-1);

        Assert.Equal(
            [
                "Gateway:Sockets:a:Stomp:HeartBeat:Incoming: must not be negative, was -00:00:01",
                "Gateway:Sockets:a:Stomp:Subscriptions:1:Destination: is required",
                "Gateway:Sockets:a:Stomp:Subscriptions:2:Id: 's' is used by an earlier subscription",
                "Gateway:Sockets:a:Stomp:Subscriptions:2:StaleAfter: must be positive, was 00:00:00",
            ],
            ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_StompHeadersThatCannotBeSent_EachNamedWithoutItsValue()
    {
        // Passed validation before, then failed every connection: CONNECT threw (its headers are not
        // escaped), SUBSCRIBE threw on content-length, and the socket reconnected forever.
        var socket = ValidSocket();
        socket.Stomp.Login = "guest";
        socket.Stomp.Passcode = "top\nsecret";
        socket.Stomp.Host = "/\r";
        socket.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/a", Headers = { ["content-length"] = "5", ["x-ok"] = "a:b\nc" } });
        socket.Stomp.Subscriptions.Add(new StompSubscriptionOptions { Destination = "/queue/b", Headers = { ["x-nul"] = "a\0b" } });

        var errors = ErrorsFor(socket);

        Assert.Equal(
            [
                "Gateway:Sockets:a:Stomp:Host: holds a line break or NUL, which a STOMP CONNECT frame cannot carry (its headers are not escaped)",
                "Gateway:Sockets:a:Stomp:Passcode: holds a line break or NUL, which a STOMP CONNECT frame cannot carry (its headers are not escaped)",
                "Gateway:Sockets:a:Stomp:Subscriptions:0:Headers:content-length: SUBSCRIBE has no body; the gateway writes content-length itself where there is one",
                "Gateway:Sockets:a:Stomp:Subscriptions:1:Headers:x-nul: holds a NUL, which a STOMP header cannot carry",
            ],
            errors);
        Assert.DoesNotContain(errors, e => e.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public void GetErrors_PhoenixTopicsAndDurations_EachBadKeyNamed()
    {
        var socket = ValidSocket();
        socket.Phoenix.Topics.Add(new PhoenixTopicOptions { Topic = "room:a", Payload = "{\"ok\":1}" });
        socket.Phoenix.Topics.Add(new PhoenixTopicOptions { Topic = "room:a" });
        socket.Phoenix.Topics.Add(new PhoenixTopicOptions { Topic = "" });
        socket.Phoenix.Topics.Add(new PhoenixTopicOptions { Topic = "phoenix" });
        socket.Phoenix.Topics.Add(new PhoenixTopicOptions { Topic = "room:b", Payload = "[1]" });
        socket.Phoenix.HeartbeatInterval = TimeSpan.Zero;
        socket.Phoenix.RejoinAfter.Add(TimeSpan.FromSeconds(-1));

        Assert.Equal(
            [
                "Gateway:Sockets:a:Phoenix:HeartbeatInterval: must be positive, was 00:00:00",
                "Gateway:Sockets:a:Phoenix:RejoinAfter:0: must be positive, was -00:00:01",
                "Gateway:Sockets:a:Phoenix:Topics:1:Topic: 'room:a' is joined by an earlier entry",
                "Gateway:Sockets:a:Phoenix:Topics:2:Topic: is required",
                "Gateway:Sockets:a:Phoenix:Topics:3:Topic: 'phoenix' is the socket's own topic (heartbeats)",
                "Gateway:Sockets:a:Phoenix:Topics:4:Payload: is not a JSON object",
            ],
            ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_PathOnThisGateway_IsValid()
    {
        var socket = ValidSocket();
        socket.Url = new Uri("/demo/ticks", UriKind.Relative);

        Assert.Empty(ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_MissingUrl_IsRequired()
    {
        var socket = ValidSocket();
        socket.Url = null;

        Assert.Equal(["Gateway:Sockets:a:Url: is required"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_UnknownHandler_NamesIndexAndHandler()
    {
        var socket = ValidSocket();
        socket.Handlers = ["nope"];

        Assert.Equal(["Gateway:Sockets:a:Handlers:0: 'nope' is not a registered frame handler"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_UnknownSecondHandler_NamesItsIndex()
    {
        var socket = ValidSocket();
        socket.Handlers = ["log", "nope"];

        Assert.Equal(["Gateway:Sockets:a:Handlers:1: 'nope' is not a registered frame handler"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_HandlerNameInOtherCase_IsNotRegistered()
    {
        var socket = ValidSocket();
        socket.Handlers = ["LOG"];

        Assert.Equal(["Gateway:Sockets:a:Handlers:0: 'LOG' is not a registered frame handler"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_NoHandlers_RequiresOne()
    {
        var socket = ValidSocket();
        socket.Handlers = [];

        Assert.Equal(["Gateway:Sockets:a:Handlers: at least one handler is required, so no frame goes unhandled"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("bad/name")]
    [InlineData(".hidden")]
    [InlineData("-dash")]
    [InlineData("ünicode")]
    public void GetErrors_BadSocketName_NamesIt(string name)
    {
        Assert.Equal(
            [$"Gateway:Sockets:{name}: the socket name '{name}' may hold only letters, digits, '_', '-' and '.'"],
            ErrorsFor(ValidSocket(), name));
    }

    [Fact]
    public void GetErrors_SocketNameWithTrailingNewline_IsRejected()
    {
        Assert.Equal(
            ["Gateway:Sockets:prices\n: the socket name 'prices\n' may hold only letters, digits, '_', '-' and '.'"],
            ErrorsFor(ValidSocket(), "prices\n"));
    }

    [Fact]
    public void GetErrors_MaxDelayBelowMinDelay_NamesBoth()
    {
        var socket = ValidSocket();
        socket.Reconnect.MinDelay = TimeSpan.FromSeconds(5);
        socket.Reconnect.MaxDelay = TimeSpan.FromSeconds(1);

        Assert.Equal(["Gateway:Sockets:a:Reconnect:MaxDelay: must be at least MinDelay (00:00:05), was 00:00:01"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_MaxDelayEqualToMinDelay_IsValid()
    {
        var socket = ValidSocket();
        socket.Reconnect.MinDelay = TimeSpan.FromSeconds(5);
        socket.Reconnect.MaxDelay = TimeSpan.FromSeconds(5);

        Assert.Empty(ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_ZeroMinDelay_MustBePositive()
    {
        var socket = ValidSocket();
        socket.Reconnect.MinDelay = TimeSpan.Zero;

        Assert.Equal(["Gateway:Sockets:a:Reconnect:MinDelay: must be positive, was 00:00:00"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData(-0.1, "-0.1")]
    [InlineData(1.5, "1.5")]
    [InlineData(double.NaN, "NaN")]
    public void GetErrors_JitterOutOfRange_NamesValue(double jitter, string shown)
    {
        var socket = ValidSocket();
        socket.Reconnect.Jitter = jitter;

        Assert.Equal([$"Gateway:Sockets:a:Reconnect:Jitter: must be between 0 and 1, was {shown}"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void GetErrors_JitterAtBounds_IsValid(double jitter)
    {
        var socket = ValidSocket();
        socket.Reconnect.Jitter = jitter;

        Assert.Empty(ErrorsFor(socket));
    }

    [Theory]
    [InlineData(0.5, "0.5")]
    [InlineData(10.5, "10.5")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NaN, "NaN")]
    public void GetErrors_FactorOutOfRange_NamesValue(double factor, string shown)
    {
        var socket = ValidSocket();
        socket.Reconnect.Factor = factor;

        Assert.Equal([$"Gateway:Sockets:a:Reconnect:Factor: must be between 1 and 10, was {shown}"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(10.0)]
    public void GetErrors_FactorAtBounds_IsValid(double factor)
    {
        var socket = ValidSocket();
        socket.Reconnect.Factor = factor;

        Assert.Empty(ErrorsFor(socket));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    public void GetErrors_MaxAttemptsBelowOne_IsAnError(int maxAttempts)
    {
        var socket = ValidSocket();
        socket.Reconnect.MaxAttempts = maxAttempts;

        Assert.Equal([$"Gateway:Sockets:a:Reconnect:MaxAttempts: must be 1 or more (or unset for no limit), was {maxAttempts}"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_NegativeResetAfter_IsAnError()
    {
        var socket = ValidSocket();
        socket.Reconnect.ResetAfter = TimeSpan.FromSeconds(-1);

        Assert.Equal(["Gateway:Sockets:a:Reconnect:ResetAfter: must not be negative, was -00:00:01"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1_000_001)]
    public void GetErrors_QueueCapacityOutOfRange_NamesValue(int capacity)
    {
        var socket = ValidSocket();
        socket.Queue.Capacity = capacity;

        Assert.Equal([$"Gateway:Sockets:a:Queue:Capacity: must be between 1 and 1000000, was {capacity}"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1_000_000)]
    public void GetErrors_QueueCapacityAtBounds_IsValid(int capacity)
    {
        var socket = ValidSocket();
        socket.Queue.Capacity = capacity;

        Assert.Empty(ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_ZeroConnectTimeout_MustBePositive()
    {
        var socket = ValidSocket();
        socket.ConnectTimeout = TimeSpan.Zero;

        Assert.Equal(["Gateway:Sockets:a:ConnectTimeout: must be positive, was 00:00:00"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_NegativeKeepAlive_MustNotBeNegative()
    {
        var socket = ValidSocket();
        socket.KeepAliveInterval = TimeSpan.FromSeconds(-1);
        socket.KeepAliveTimeout = TimeSpan.FromSeconds(-2);

        Assert.Equal(
            [
                "Gateway:Sockets:a:KeepAliveInterval: must not be negative, was -00:00:01",
                "Gateway:Sockets:a:KeepAliveTimeout: must not be negative, was -00:00:02",
            ],
            ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_ZeroKeepAlive_IsValid()
    {
        var socket = ValidSocket();
        socket.KeepAliveInterval = TimeSpan.Zero;
        socket.KeepAliveTimeout = TimeSpan.Zero;

        Assert.Empty(ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_ZeroNoMessageTimeout_MustBePositive()
    {
        var socket = ValidSocket();
        socket.NoMessageTimeout = TimeSpan.Zero;

        Assert.Equal(["Gateway:Sockets:a:NoMessageTimeout: must be positive, was 00:00:00"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_ZeroMaxMessageSize_IsAnError()
    {
        var socket = ValidSocket();
        socket.MaxMessageSize = 0;

        Assert.Equal(["Gateway:Sockets:a:MaxMessageSize: must be between 1 and 268435456 bytes, was 0"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_SixtyDayDurations_EachKeyRejectedWithItsLimit()
    {
        const string sixtyDays = "60.00:00:00";
        string[] timeouts = ["ConnectTimeout", "KeepAliveTimeout", "HandshakeTimeout", "ReplyTimeout", "Heartbeat:Timeout"];
        string[] intervals = ["KeepAliveInterval", "NoMessageTimeout", "Heartbeat:Interval", "Reconnect:MinDelay", "Reconnect:MaxDelay", "Reconnect:ResetAfter", "Outbound:MaxAge"];
        var values = new Dictionary<string, string?>
        {
            ["Gateway:ShutdownTimeout"] = sixtyDays,
            ["Gateway:Sockets:a:Url"] = "ws://h/",
            ["Gateway:Sockets:a:Handlers:0"] = "log",
            ["Gateway:Sockets:a:MaxMessageSize"] = "2147483647",
        };
        foreach (var key in timeouts.Concat(intervals))
        {
            values[$"Gateway:Sockets:a:{key}"] = sixtyDays;
        }

        var options = new GatewayOptions();
        new GatewayOptionsSetup(new ConfigurationBuilder().AddInMemoryCollection(values).Build()).Configure(options);
        var errors = _validator.GetErrors(options);

        Assert.Contains("Gateway:ShutdownTimeout: must be at most 01:00:00, was 60.00:00:00", errors);
        Assert.All(timeouts, key => Assert.Contains($"Gateway:Sockets:a:{key}: must be at most 01:00:00, was 60.00:00:00", errors));
        Assert.All(intervals, key => Assert.Contains($"Gateway:Sockets:a:{key}: must be at most 1.00:00:00, was 60.00:00:00", errors));
        Assert.Contains("Gateway:Sockets:a:MaxMessageSize: must be between 1 and 268435456 bytes, was 2147483647", errors);
        Assert.Equal(2 + timeouts.Length + intervals.Length, errors.Count);
    }

    [Fact]
    public void GetErrors_EveryDurationAtItsLimit_IsValid()
    {
        var socket = ValidSocket();
        socket.ConnectTimeout = socket.KeepAliveTimeout = socket.HandshakeTimeout = socket.ReplyTimeout = GatewayOptionsValidator.MaxTimeout;
        socket.KeepAliveInterval = GatewayOptionsValidator.MaxInterval;
        socket.NoMessageTimeout = GatewayOptionsValidator.MaxInterval;
        socket.Reconnect.MinDelay = socket.Reconnect.MaxDelay = socket.Reconnect.ResetAfter = GatewayOptionsValidator.MaxInterval;
        socket.Reconnect.Jitter = 1;
        socket.Outbound.MaxAge = GatewayOptionsValidator.MaxInterval;
        socket.Heartbeat.Interval = GatewayOptionsValidator.MaxInterval;
        socket.Heartbeat.Timeout = GatewayOptionsValidator.MaxTimeout;
        socket.MaxMessageSize = GatewayOptionsValidator.MaxMessageSizeLimit;

        Assert.Empty(ErrorsFor(socket));

        // The largest backoff such a socket can ask for is a valid Task.Delay (at most ~49.7 days).
        var delay = Gateway.Host.Sockets.ReconnectBackoff.GetDelay(socket.Reconnect, int.MaxValue, 0.999);
        Assert.InRange(delay, TimeSpan.Zero, TimeSpan.FromMilliseconds(uint.MaxValue - 1));
    }

    [Fact]
    public void GetErrors_ZeroShutdownTimeout_MustBePositive()
    {
        var options = new GatewayOptions { ShutdownTimeout = TimeSpan.Zero };

        Assert.Equal(["Gateway:ShutdownTimeout: must be positive, was 00:00:00"], _validator.GetErrors(options));
    }

    [Fact]
    public void GetErrors_OnConnectWithTextAndBinary_NamesItem()
    {
        var socket = ValidSocket();
        socket.OnConnect.Add(new OnConnectMessage { Text = "ok" });
        socket.OnConnect.Add(new OnConnectMessage { Text = "hi", Binary = "AQID" });

        Assert.Equal(["Gateway:Sockets:a:OnConnect:1: set exactly one of Text or Binary"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_OnConnectWithNeitherTextNorBinary_NamesItem()
    {
        var socket = ValidSocket();
        socket.OnConnect.Add(new OnConnectMessage());

        Assert.Equal(["Gateway:Sockets:a:OnConnect:0: set exactly one of Text or Binary"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AQI")]
    public void GetErrors_OnConnectInvalidBase64_NamesBinaryKey(string binary)
    {
        var socket = ValidSocket();
        socket.OnConnect.Add(new OnConnectMessage { Binary = binary });

        Assert.Equal(["Gateway:Sockets:a:OnConnect:0:Binary: is not valid base64"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData("Bearer s3cret\r\nX-Evil: 1")]
    [InlineData("Bearer s3cret\n")]
    [InlineData("s3cret\rtail")]
    public void GetErrors_HeaderValueWithLineBreak_NamesHeaderButNotValue(string value)
    {
        var socket = ValidSocket();
        socket.Headers["Authorization"] = value;

        var errors = ErrorsFor(socket);

        Assert.Equal(["Gateway:Sockets:a:Headers:Authorization: the value must not contain line breaks"], errors);
        Assert.DoesNotContain(errors, e => e.Contains("s3cret", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Bad Header")]
    [InlineData("X-Key:")]
    [InlineData("")]
    public void GetErrors_InvalidHeaderName_NamesHeader(string header)
    {
        var socket = ValidSocket();
        socket.Headers[header] = "s3cret";

        var errors = ErrorsFor(socket);

        Assert.Equal([$"Gateway:Sockets:a:Headers:{header}: is not a valid header name"], errors);
        Assert.DoesNotContain(errors, e => e.Contains("s3cret", StringComparison.Ordinal));
    }

    [Fact]
    public void GetErrors_HeaderNameWithTrailingNewline_IsRejected()
    {
        var socket = ValidSocket();
        socket.Headers["X-Key\n"] = "v";

        Assert.Equal(["Gateway:Sockets:a:Headers:X-Key\n: is not a valid header name"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_SubProtocolWithTrailingNewline_IsRejected()
    {
        var socket = ValidSocket();
        socket.SubProtocols.Add("v1\n");

        Assert.Equal(["Gateway:Sockets:a:SubProtocols:0: 'v1\n' is not a valid subprotocol token"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("v1,v2")]
    [InlineData("")]
    public void GetErrors_InvalidSubProtocol_NamesIndexAndValue(string subProtocol)
    {
        var socket = ValidSocket();
        socket.SubProtocols.Add("ok");
        socket.SubProtocols.Add(subProtocol);

        Assert.Equal([$"Gateway:Sockets:a:SubProtocols:1: '{subProtocol}' is not a valid subprotocol token"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void GetErrors_EmptyGroup_NamesIndex(string group)
    {
        var socket = ValidSocket();
        socket.Groups.Add(group);

        Assert.Equal(["Gateway:Sockets:a:Groups:0: must not be empty"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_BindErrors_AreReportedFirst()
    {
        var options = With("a", new SocketOptions { Handlers = ["log"] });
        options.BindErrors.Add("Gateway:Sockets:a:Foo: unknown key (known: ...)");

        var errors = _validator.GetErrors(options);

        Assert.Equal(["Gateway:Sockets:a:Foo: unknown key (known: ...)", "Gateway:Sockets:a:Url: is required"], errors);
    }

    [Fact]
    public void GetErrors_SeveralBadSockets_ReportsEachUnderItsOwnKey()
    {
        var options = With("a", new SocketOptions { Url = new Uri("http://a"), Handlers = ["log"] });
        options.Sockets["b"] = new SocketOptions { Url = new Uri("ws://b"), Handlers = ["nope"] };

        var errors = _validator.GetErrors(options);

        Assert.Equal(2, errors.Count);
        Assert.Contains("Gateway:Sockets:a:Url: 'http://a' is not a ws:// or wss:// URL, nor a path on this gateway (/demo/ticks)", errors);
        Assert.Contains("Gateway:Sockets:b:Handlers:0: 'nope' is not a registered frame handler", errors);
    }

    [Fact]
    public void GetErrors_BoundFromConfiguration_ReportsConfiguredKeys()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:Defaults:Handlers:0"] = "log",
                ["Gateway:Sockets:prices:Url"] = "http://x",
                ["Gateway:Sockets:orders:Url"] = "wss://h/orders",
                ["Gateway:Sockets:orders:Handlers:0"] = "nope",
                ["Gateway:Sockets:orders:Queue:FullMode"] = "Never",
            })
            .Build();
        var options = new GatewayOptions();
        new GatewayOptionsSetup(configuration).Configure(options);

        var errors = _validator.GetErrors(options);

        // The invalid enum is reported and left out; the socket's other keys still bind and get validated.
        Assert.Equal(
            [
                "Gateway:Sockets:orders:Queue:FullMode: 'Never' is not one of Wait, DropOldest, DropNewest",
                "Gateway:Sockets:orders:Handlers:0: 'nope' is not a registered frame handler",
                "Gateway:Sockets:prices:Url: 'http://x' is not a ws:// or wss:// URL, nor a path on this gateway (/demo/ticks)",
            ],
            errors);
    }

    [Fact]
    public void GetErrors_UnregisteredConnectHook_NamesKeyAndHook()
    {
        var socket = ValidSocket();
        socket.ConnectHook = "nope";

        Assert.Equal(["Gateway:Sockets:a:ConnectHook: 'nope' is not a registered connect hook"], ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_ConnectHookNameInOtherCase_IsNotRegistered()
    {
        var socket = ValidSocket();
        socket.ConnectHook = "Refresh";

        Assert.Equal(["Gateway:Sockets:a:ConnectHook: 'Refresh' is not a registered connect hook"], ErrorsFor(socket));
    }

    [Theory]
    [InlineData("refresh")]
    [InlineData("")]
    [InlineData(null)]
    public void GetErrors_RegisteredOrUnsetConnectHook_IsValid(string? hook)
    {
        var socket = ValidSocket();
        socket.ConnectHook = hook;

        Assert.Empty(ErrorsFor(socket));
    }

    [Fact]
    public void GetErrors_UnregisteredConnectHookInDefaults_ReportedUnderEachSocketsKey()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:Defaults:Handlers:0"] = "log",
                ["Gateway:Defaults:ConnectHook"] = "tokens",
                ["Gateway:Sockets:a:Url"] = "wss://h/a",
                ["Gateway:Sockets:b:Url"] = "wss://h/b",
                ["Gateway:Sockets:c:Url"] = "wss://h/c",
                ["Gateway:Sockets:c:ConnectHook"] = "refresh",
            })
            .Build();
        var options = new GatewayOptions();
        new GatewayOptionsSetup(configuration).Configure(options);

        var errors = _validator.GetErrors(options);

        Assert.Equal(
            [
                "Gateway:Sockets:a:ConnectHook: 'tokens' is not a registered connect hook",
                "Gateway:Sockets:b:ConnectHook: 'tokens' is not a registered connect hook",
            ],
            errors);
    }

    [Fact]
    public void GetErrors_HeartbeatWithTextAndExpect_IsValid()
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5), Text = "ping", Expect = "pong", Deliver = true };
        var binary = ValidSocket();
        binary.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5), Binary = "AQID", ExpectPattern = "^pong \\d+$" };
        var passive = ValidSocket();
        passive.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5) };

        Assert.Empty(ErrorsFor(socket));
        Assert.Empty(ErrorsFor(binary));
        Assert.Empty(ErrorsFor(passive));
    }

    [Fact]
    public void GetErrors_HeartbeatTextAndBinary_NamesHeartbeatKey()
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5), Text = "ping", Binary = "AQID" };

        Assert.Equal(["Gateway:Sockets:prices:Heartbeat: set Text or Binary, not both"], ErrorsFor(socket, "prices"));
    }

    [Fact]
    public void GetErrors_HeartbeatExpectAndExpectPattern_NamesHeartbeatKey()
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5), Text = "ping", Expect = "pong", ExpectPattern = "^pong$" };

        Assert.Equal(["Gateway:Sockets:prices:Heartbeat: set Expect or ExpectPattern, not both"], ErrorsFor(socket, "prices"));
    }

    [Theory]
    [InlineData("(")]
    [InlineData("[a-")]
    [InlineData("pong\\")]
    public void GetErrors_HeartbeatInvalidExpectPattern_NamesKeyAndPattern(string pattern)
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5), Text = "ping", ExpectPattern = pattern };

        var error = Assert.Single(ErrorsFor(socket, "prices"));

        Assert.StartsWith($"Gateway:Sockets:prices:Heartbeat:ExpectPattern: '{pattern}' is not a valid regular expression (", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AQI")]
    public void GetErrors_HeartbeatInvalidBase64_NamesBinaryKey(string binary)
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.FromSeconds(5), Binary = binary, Expect = "pong" };

        Assert.Equal([$"Gateway:Sockets:prices:Heartbeat:Binary: '{binary}' is not base64"], ErrorsFor(socket, "prices"));
    }

    [Theory]
    [InlineData("ping", null, null)]
    [InlineData(null, "pong", null)]
    [InlineData(null, null, "^pong$")]
    public void GetErrors_HeartbeatWithoutInterval_IntervalRequired(string? text, string? expect, string? pattern)
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Text = text, Expect = expect, ExpectPattern = pattern };

        Assert.Equal(["Gateway:Sockets:prices:Heartbeat:Interval: is required when the heart-beat has a message or an expected answer"], ErrorsFor(socket, "prices"));
    }

    [Fact]
    public void GetErrors_HeartbeatZeroIntervalAndTimeout_MustBePositive()
    {
        var socket = ValidSocket();
        socket.Heartbeat = new HeartbeatOptions { Interval = TimeSpan.Zero, Timeout = TimeSpan.Zero };

        Assert.Equal(
            [
                "Gateway:Sockets:prices:Heartbeat:Interval: must be positive, was 00:00:00",
                "Gateway:Sockets:prices:Heartbeat:Timeout: must be positive, was 00:00:00",
            ],
            ErrorsFor(socket, "prices"));
    }

    [Fact]
    public void GetErrors_HeartbeatFromConfiguration_ErrorsNameConfiguredKeys()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:Sockets:a:Url"] = "wss://h/a",
                ["Gateway:Sockets:a:Handlers:0"] = "log",
                ["Gateway:Sockets:a:Heartbeat:Text"] = "ping",
                ["Gateway:Sockets:a:Heartbeat:Binary"] = "AQID",
                ["Gateway:Sockets:a:Heartbeat:Interval"] = "00:00:05",
                ["Gateway:Sockets:a:Heartbeat:ExpectPattern"] = "(",
            })
            .Build();
        var options = new GatewayOptions();
        new GatewayOptionsSetup(configuration).Configure(options);

        var errors = _validator.GetErrors(options);

        Assert.Equal(2, errors.Count);
        Assert.Equal("Gateway:Sockets:a:Heartbeat: set Text or Binary, not both", errors[0]);
        Assert.StartsWith("Gateway:Sockets:a:Heartbeat:ExpectPattern: '(' is not a valid regular expression", errors[1], StringComparison.Ordinal);
    }

    private sealed class NoopConnectHook : IConnectHook
    {
        public ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private sealed class NoopFrameHandler : IFrameHandler
    {
        public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
