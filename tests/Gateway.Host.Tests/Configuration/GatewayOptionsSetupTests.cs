using System.Text;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed class GatewayOptionsSetupTests
{
    private static GatewayOptions Bind(params (string Key, string? Value)[] values)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value)))
            .Build();
        return Bind(configuration);
    }

    private static GatewayOptions Bind(IConfiguration configuration)
    {
        var options = new GatewayOptions();
        new GatewayOptionsSetup(configuration).Configure(options);
        return options;
    }

    [Fact]
    public void Configure_UrlIsAPath_BoundAsRelativeNotAsAFileUrl()
    {
        var options = Bind(("Gateway:Sockets:demo:Url", "/demo/ticks?symbol=DEMO"));

        Assert.Empty(options.BindErrors);
        var url = options.Sockets["demo"].Url!;
        Assert.False(url.IsAbsoluteUri);
        Assert.Equal("/demo/ticks?symbol=DEMO", url.OriginalString);
    }

    [Fact]
    public void Configure_StompSection_BindsSubscriptionsWithKebabCaseAckAndHeaders()
    {
        var options = Bind(
            ("Gateway:Sockets:q:Url", "ws://127.0.0.1:15674/ws"),
            ("Gateway:Sockets:q:Protocol", "Stomp"),
            ("Gateway:Sockets:q:Stomp:Login", "guest"),
            ("Gateway:Sockets:q:Stomp:HeartBeat:Outgoing", "00:00:02"),
            ("Gateway:Sockets:q:Stomp:Subscriptions:0:Destination", "/queue/a"),
            ("Gateway:Sockets:q:Stomp:Subscriptions:0:Ack", "client-individual"),
            ("Gateway:Sockets:q:Stomp:Subscriptions:0:Headers:prefetch-count", "10"),
            ("Gateway:Sockets:q:Stomp:Subscriptions:1:Destination", "/topic/b"),
            ("Gateway:Sockets:q:Stomp:Subscriptions:1:Ack", "auto"));

        Assert.Empty(options.BindErrors);
        var stomp = options.Sockets["q"].Stomp;
        Assert.Equal("guest", stomp.Login);
        Assert.Equal(TimeSpan.FromSeconds(2), stomp.HeartBeat.Outgoing);
        Assert.Equal([StompAck.ClientIndividual, StompAck.Auto], stomp.Subscriptions.Select(s => s.Ack));
        Assert.Equal("10", stomp.Subscriptions[0].Headers["prefetch-count"]);
    }

    [Fact]
    public void Configure_PhoenixSection_BindsTopicsParamsAndTheRejoinSchedule()
    {
        var options = Bind(
            ("Gateway:Sockets:p:Url", "ws://127.0.0.1:4000/socket/websocket"),
            ("Gateway:Sockets:p:Protocol", "Phoenix"),
            ("Gateway:Sockets:p:Phoenix:Params:token", "abc"),
            ("Gateway:Sockets:p:Phoenix:Serializer", "V1"),
            ("Gateway:Sockets:p:Phoenix:RejoinAfter:0", "00:00:00.5"),
            ("Gateway:Sockets:p:Phoenix:RejoinAfter:1", "00:00:03"),
            ("Gateway:Sockets:p:Phoenix:Topics:0:Topic", "room:a"),
            ("Gateway:Sockets:p:Phoenix:Topics:1:Topic", "room:b"),
            ("Gateway:Sockets:p:Phoenix:Topics:1:Payload", "{\"since\":1}"));

        Assert.Empty(options.BindErrors);
        var phoenix = options.Sockets["p"].Phoenix;
        Assert.Equal(["room:a", "room:b"], phoenix.Topics.Select(t => t.Topic));
        Assert.Equal("{\"since\":1}", phoenix.Topics[1].Payload);
        Assert.Equal("abc", phoenix.Params["token"]);
        Assert.Equal(PhoenixSerializer.V1, phoenix.Serializer);
        Assert.Equal([TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3)], phoenix.RejoinSchedule);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)], new PhoenixOptions().RejoinSchedule);
    }

    [Fact]
    public void Configure_ListOfDurationsWithABadValue_NamesTheElement()
    {
        var options = Bind(
            ("Gateway:Sockets:p:Url", "ws://127.0.0.1:4000/socket/websocket"),
            ("Gateway:Sockets:p:Phoenix:RejoinAfter:0", "soon"));

        Assert.Contains(options.BindErrors, e => e.StartsWith("Gateway:Sockets:p:Phoenix:RejoinAfter:0:", StringComparison.Ordinal));
    }

    [Fact]
    public void Configure_SocketWithoutOwnSettings_GetsDefaults()
    {
        var options = Bind(
            ("Gateway:Defaults:ConnectTimeout", "00:00:05"),
            ("Gateway:Defaults:Reconnect:MinDelay", "00:00:01"),
            ("Gateway:Defaults:Queue:FullMode", "DropOldest"),
            ("Gateway:Defaults:Handlers:0", "log"),
            ("Gateway:Sockets:a:Url", "wss://feed.example.com/a"));

        Assert.Empty(options.BindErrors);
        var socket = Assert.Single(options.Sockets).Value;
        Assert.Equal(new Uri("wss://feed.example.com/a"), socket.Url);
        Assert.Equal(TimeSpan.FromSeconds(5), socket.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), socket.Reconnect.MinDelay);
        Assert.Equal(QueueFullMode.DropOldest, socket.Queue.FullMode);
        Assert.Equal(["log"], socket.Handlers);
    }

    [Fact]
    public void Configure_ConnectHookInDefaults_AppliesUnlessSocketSetsOrClearsIt()
    {
        var options = Bind(
            ("Gateway:Defaults:ConnectHook", "tokens"),
            ("Gateway:Sockets:a:Url", "wss://h/a"),
            ("Gateway:Sockets:b:Url", "wss://h/b"),
            ("Gateway:Sockets:b:ConnectHook", "other"),
            ("Gateway:Sockets:c:Url", "wss://h/c"),
            ("Gateway:Sockets:c:ConnectHook", ""));

        Assert.Empty(options.BindErrors);
        Assert.Equal("tokens", options.Sockets["a"].ConnectHook);
        Assert.Equal("other", options.Sockets["b"].ConnectHook);
        Assert.Equal(string.Empty, options.Sockets["c"].ConnectHook);
        Assert.Null(Bind(("Gateway:Sockets:a:Url", "wss://h/a")).Sockets["a"].ConnectHook);
    }

    [Fact]
    public void Configure_NoDefaults_SocketKeepsBuiltInDefaults()
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"));

        var socket = options.Sockets["a"];
        Assert.Empty(options.BindErrors);
        Assert.Equal(TimeSpan.FromSeconds(10), socket.ConnectTimeout);
        Assert.Equal(1024, socket.Queue.Capacity);
        Assert.Equal(TimeSpan.FromMilliseconds(200), socket.Reconnect.MinDelay);
        Assert.True(socket.Enabled);
        Assert.Empty(socket.Handlers);
    }

    [Fact]
    public void Configure_SocketKeys_OverrideDefaults()
    {
        var options = Bind(
            ("Gateway:Defaults:ConnectTimeout", "00:00:05"),
            ("Gateway:Defaults:MaxMessageSize", "1000"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:ConnectTimeout", "00:00:07"),
            ("Gateway:Sockets:b:Url", "ws://h/"));

        Assert.Empty(options.BindErrors);
        Assert.Equal(TimeSpan.FromSeconds(7), options.Sockets["a"].ConnectTimeout);
        Assert.Equal(1000, options.Sockets["a"].MaxMessageSize);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Sockets["b"].ConnectTimeout);
    }

    [Fact]
    public void Configure_NestedSocketKey_OverridesOnlyThatKeyOfTheDefaultSection()
    {
        var options = Bind(
            ("Gateway:Defaults:Reconnect:MinDelay", "00:00:01"),
            ("Gateway:Defaults:Reconnect:MaxDelay", "00:00:20"),
            ("Gateway:Defaults:Queue:Capacity", "50"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Reconnect:MaxDelay", "00:00:40"),
            ("Gateway:Sockets:a:Queue:FullMode", "DropNewest"));

        var socket = options.Sockets["a"];
        Assert.Empty(options.BindErrors);
        Assert.Equal(TimeSpan.FromSeconds(1), socket.Reconnect.MinDelay);
        Assert.Equal(TimeSpan.FromSeconds(40), socket.Reconnect.MaxDelay);
        Assert.Equal(50, socket.Queue.Capacity);
        Assert.Equal(QueueFullMode.DropNewest, socket.Queue.FullMode);
    }

    [Fact]
    public void Configure_TwoSockets_ShareOnlyEqualNestedOptions()
    {
        var options = Bind(
            ("Gateway:Defaults:Reconnect:MinDelay", "00:00:01"),
            ("Gateway:Defaults:Handlers:0", "log"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Reconnect:MaxDelay", "00:00:40"),
            ("Gateway:Sockets:a:Headers:X-Tenant", "a"),
            ("Gateway:Sockets:b:Url", "ws://h/"),
            ("Gateway:Sockets:b:Handlers:0", "file"));

        SocketOptions a = options.Sockets["a"], b = options.Sockets["b"];

        // What one socket sets never reaches the other.
        Assert.NotSame(a.Reconnect, b.Reconnect);
        Assert.Equal(TimeSpan.FromSeconds(40), a.Reconnect.MaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(30), b.Reconnect.MaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(1), b.Reconnect.MinDelay);
        Assert.Equal(["log"], a.Handlers);
        Assert.Equal(["file"], b.Handlers);
        Assert.Equal("a", a.Headers["X-Tenant"]);
        Assert.Empty(b.Headers);

        // Equal settings are one instance: 10,000 sockets do not each hold a copy of the defaults.
        Assert.Same(a.Queue, b.Queue);
        Assert.Same(a.Heartbeat, b.Heartbeat);
        Assert.Same(a.Stomp, b.Stomp);
        Assert.Same(a.Groups, b.Groups);
    }

    [Theory]
    [InlineData("Handlers")]
    [InlineData("Groups")]
    [InlineData("SubProtocols")]
    public void Configure_SocketList_ReplacesDefaultList(string list)
    {
        var options = Bind(
            ($"Gateway:Defaults:{list}:0", "d1"),
            ($"Gateway:Defaults:{list}:1", "d2"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ($"Gateway:Sockets:a:{list}:0", "own"),
            ("Gateway:Sockets:b:Url", "ws://h/"));

        Assert.Empty(options.BindErrors);
        Assert.Equal(["own"], ListOf(options.Sockets["a"], list));
        Assert.Equal(["d1", "d2"], ListOf(options.Sockets["b"], list));
    }

    private static List<string> ListOf(SocketOptions socket, string list) => list switch
    {
        "Handlers" => socket.Handlers,
        "Groups" => socket.Groups,
        "SubProtocols" => socket.SubProtocols,
        _ => throw new ArgumentOutOfRangeException(nameof(list), list, null),
    };

    [Fact]
    public void Configure_SocketOnConnect_ReplacesDefaultOnConnect()
    {
        var options = Bind(
            ("Gateway:Defaults:OnConnect:0:Text", "hello"),
            ("Gateway:Defaults:OnConnect:1:Binary", "AQID"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:OnConnect:0:Text", "subscribe a"),
            ("Gateway:Sockets:b:Url", "ws://h/"));

        Assert.Empty(options.BindErrors);
        var own = Assert.Single(options.Sockets["a"].OnConnect);
        Assert.Equal("subscribe a", own.Text);
        Assert.Null(own.Binary);
        Assert.Collection(
            options.Sockets["b"].OnConnect,
            m => Assert.Equal(("hello", (string?)null), (m.Text, m.Binary)),
            m => Assert.Equal(((string?)null, "AQID"), (m.Text, m.Binary)));
    }

    [Fact]
    public void Configure_EmptyJsonArrayInSocket_ClearsDefaultLists()
    {
        const string json = """
            {
              "Gateway": {
                "Defaults": { "Handlers": [ "log" ], "Groups": [ "g" ], "OnConnect": [ { "Text": "hello" } ] },
                "Sockets": {
                  "a": { "Url": "ws://h/", "Groups": [], "OnConnect": [] },
                  "b": { "Url": "ws://h/" }
                }
              }
            }
            """;
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

        var options = Bind(configuration);

        Assert.Empty(options.BindErrors);
        Assert.Empty(options.Sockets["a"].Groups);
        Assert.Empty(options.Sockets["a"].OnConnect);
        Assert.Equal(["log"], options.Sockets["a"].Handlers);
        Assert.Equal(["g"], options.Sockets["b"].Groups);
        Assert.Equal("hello", Assert.Single(options.Sockets["b"].OnConnect).Text);
    }

    [Fact]
    public void Configure_Headers_MergeDefaultsWithSocketHeaders()
    {
        var options = Bind(
            ("Gateway:Defaults:Headers:X-A", "1"),
            ("Gateway:Defaults:Headers:X-B", "2"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Headers:X-B", "3"),
            ("Gateway:Sockets:a:Headers:X-C", "4"));

        var headers = options.Sockets["a"].Headers;
        Assert.Empty(options.BindErrors);
        Assert.Equal(3, headers.Count);
        Assert.Equal("1", headers["X-A"]);
        Assert.Equal("3", headers["X-B"]);
        Assert.Equal("4", headers["X-C"]);
    }

    [Fact]
    public void Configure_HeaderNamesDifferingInCase_AreOneHeader()
    {
        var options = Bind(
            ("Gateway:Defaults:Headers:Authorization", "Bearer default"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Headers:authorization", "Bearer own"));

        var header = Assert.Single(options.Sockets["a"].Headers);
        Assert.Equal("Bearer own", header.Value);
        Assert.Equal("Bearer own", options.Sockets["a"].Headers["AUTHORIZATION"]);
    }

    [Theory]
    [InlineData("Gateway:Sockets:a:Foo")]
    [InlineData("Gateway:Sockets:a:Reconnect:Bogus")]
    [InlineData("Gateway:Sockets:a:Queue:Size")]
    [InlineData("Gateway:Sockets:a:OnConnect:0:Txt")]
    [InlineData("Gateway:Defaults:Foo")]
    [InlineData("Gateway:Defaults:Reconnect:Delay")]
    [InlineData("Gateway:Extra")]
    public void Configure_UnknownKey_ReportsFullKeyPath(string key)
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), (key, "1"));

        var error = Assert.Single(options.BindErrors);
        Assert.StartsWith($"{key}: unknown key (known: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Configure_WholeNumberBeyondItsType_SaysTheRangeNotThatItIsNoWholeNumber()
    {
        // '3000000000' is a whole number: the problem is its size (the per-key limits are checked after binding).
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), ("Gateway:Sockets:a:MaxMessageSize", "3000000000"));

        Assert.Equal("Gateway:Sockets:a:MaxMessageSize: '3000000000' is not a whole number from -2147483648 to 2147483647", Assert.Single(options.BindErrors));
    }

    [Fact]
    public void Configure_UnknownSocketKey_OtherSocketKeysStillBind()
    {
        var options = Bind(
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Foo", "1"),
            ("Gateway:Sockets:a:Handlers:0", "log"),
            ("Gateway:Sockets:a:Reconnect:Bogus", "1"),
            ("Gateway:Sockets:a:Reconnect:MinDelay", "00:00:03"));

        Assert.Equal(2, options.BindErrors.Count);
        var socket = options.Sockets["a"];
        Assert.Equal(new Uri("ws://h/"), socket.Url);
        Assert.Equal(["log"], socket.Handlers);
        Assert.Equal(TimeSpan.FromSeconds(3), socket.Reconnect.MinDelay);
    }

    [Fact]
    public void Configure_BadEnum_OtherSocketKeysStillBind()
    {
        var options = Bind(
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Queue:FullMode", "Never"),
            ("Gateway:Sockets:a:Queue:Capacity", "7"));

        Assert.Single(options.BindErrors);
        Assert.Equal(new Uri("ws://h/"), options.Sockets["a"].Url);
        Assert.Equal(7, options.Sockets["a"].Queue.Capacity);
        Assert.Equal(QueueFullMode.Wait, options.Sockets["a"].Queue.FullMode);
    }

    [Fact]
    public void Configure_UnknownKeyInDefaults_OtherDefaultsStillApplyAndErrorIsReportedOnce()
    {
        var options = Bind(
            ("Gateway:Defaults:Foo", "1"),
            ("Gateway:Defaults:Handlers:0", "log"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:b:Url", "ws://h/"));

        Assert.StartsWith("Gateway:Defaults:Foo: unknown key", Assert.Single(options.BindErrors), StringComparison.Ordinal);
        Assert.Equal(["log"], options.Sockets["a"].Handlers);
        Assert.Equal(["log"], options.Sockets["b"].Handlers);
    }

    [Fact]
    public void Configure_SocketSectionWithOwnValueAndUnknownKey_ReportsErrorInsteadOfThrowing()
    {
        // e.g. Gateway__Sockets__a= in the environment on top of a JSON "a": { ... } object.
        var options = Bind(
            ("Gateway:Sockets:a", string.Empty),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:Foo", "1"));

        Assert.StartsWith("Gateway:Sockets:a:Foo: unknown key", Assert.Single(options.BindErrors), StringComparison.Ordinal);
        Assert.Equal(new Uri("ws://h/"), options.Sockets["a"].Url);
    }

    [Fact]
    public void Configure_UnknownSocketKey_ListsTheKnownKeys()
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), ("Gateway:Sockets:a:Reconnect:Bogus", "1"));

        Assert.Equal(
            "Gateway:Sockets:a:Reconnect:Bogus: unknown key (known: MinDelay, MaxDelay, Factor, Jitter, MaxAttempts, ResetAfter)",
            Assert.Single(options.BindErrors));
    }

    [Fact]
    public void Configure_UnknownTopLevelKey_ListsTheKnownTopLevelKeys()
    {
        var options = Bind(("Gateway:Socket:a:Url", "ws://h/"));

        Assert.Equal(
            "Gateway:Socket: unknown key (known: Sockets, Defaults, Handlers, ShutdownTimeout, Api, StatusPage, Plugins, Cluster)",
            Assert.Single(options.BindErrors));
        Assert.Empty(options.Sockets);
    }

    [Fact]
    public void Configure_KnownTopLevelKeys_AreNoErrors()
    {
        var options = Bind(
            ("Gateway:Handlers:file:Directory", "out"),
            ("Gateway:Api:Key", "k"),
            ("Gateway:Api:AllowAnonymous", "true"),
            ("Gateway:ShutdownTimeout", "00:00:03"),
            ("Gateway:Sockets:a:Url", "ws://h/"));

        Assert.Empty(options.BindErrors);
        Assert.Equal(TimeSpan.FromSeconds(3), options.ShutdownTimeout);
        Assert.Equal("k", options.Api.Key);
        Assert.True(options.Api.AllowAnonymous);
    }

    [Fact]
    public void Configure_UnknownApiKey_NamesKey()
    {
        var options = Bind(("Gateway:Api:Enabled", "true"));

        Assert.StartsWith("Gateway:Api:Enabled: unknown key", Assert.Single(options.BindErrors), StringComparison.Ordinal);
    }

    [Fact]
    public void Configure_BadEnum_ReportsKeyAndValue()
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), ("Gateway:Sockets:a:Protocol", "Nope"));

        Assert.Equal("Gateway:Sockets:a:Protocol: 'Nope' is not one of Raw, Stomp, Phoenix", Assert.Single(options.BindErrors));
    }

    [Fact]
    public void Configure_BadNestedEnum_ReportsKeyValueAndChoices()
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), ("Gateway:Sockets:a:Queue:FullMode", "Drop"));

        Assert.Equal(
            "Gateway:Sockets:a:Queue:FullMode: 'Drop' is not one of Wait, DropOldest, DropNewest",
            Assert.Single(options.BindErrors));
    }

    [Theory]
    [InlineData("Gateway:Sockets:a:ConnectTimeout")]
    [InlineData("Gateway:Sockets:a:Reconnect:MaxDelay")]
    [InlineData("Gateway:Sockets:a:NoMessageTimeout")]
    [InlineData("Gateway:ShutdownTimeout")]
    public void Configure_BadTimeSpan_ReportsKeyPathAndValue(string key)
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), (key, "soon"));

        var error = Assert.Single(options.BindErrors);
        Assert.Contains(key, error, StringComparison.Ordinal);
        Assert.Contains("'soon'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Configure_BadTimeSpan_OtherSocketKeysStillBind()
    {
        var options = Bind(
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:ConnectTimeout", "soon"),
            ("Gateway:Sockets:a:Handlers:0", "log"),
            ("Gateway:Sockets:a:Queue:Capacity", "5"));

        Assert.Single(options.BindErrors);
        Assert.Equal(["log"], options.Sockets["a"].Handlers);
        Assert.Equal(5, options.Sockets["a"].Queue.Capacity);
    }

    [Fact]
    public void Configure_BadNumber_ReportsKeyPath()
    {
        var options = Bind(("Gateway:Sockets:a:Url", "ws://h/"), ("Gateway:Sockets:a:Queue:Capacity", "lots"));

        var error = Assert.Single(options.BindErrors);
        Assert.StartsWith("Gateway:Sockets:a", error, StringComparison.Ordinal);
        Assert.Contains("Gateway:Sockets:a:Queue:Capacity", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Configure_BadValueInDefaults_IsReportedOnceWithDefaultsKeyPath()
    {
        var options = Bind(
            ("Gateway:Defaults:ConnectTimeout", "soon"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:b:Url", "ws://h/"));

        Assert.Contains("Gateway:Defaults:ConnectTimeout", Assert.Single(options.BindErrors), StringComparison.Ordinal);
    }

    [Fact]
    public void Configure_KeysInAnyCase_Bind()
    {
        var options = Bind(
            ("gateway:defaults:handlers:0", "log"),
            ("GATEWAY:SOCKETS:Prices:URL", "wss://feed.example.com/p"),
            ("Gateway:Sockets:Prices:reconnect:mindelay", "00:00:02"),
            ("gateway:sockets:prices:QUEUE:FULLMODE", "dropoldest"),
            ("Gateway:Sockets:Prices:protocol", "raw"));

        Assert.Empty(options.BindErrors);
        var socket = options.Sockets["prices"];
        Assert.Same(socket, options.Sockets["PRICES"]);
        Assert.Equal(new Uri("wss://feed.example.com/p"), socket.Url);
        Assert.Equal(TimeSpan.FromSeconds(2), socket.Reconnect.MinDelay);
        Assert.Equal(QueueFullMode.DropOldest, socket.Queue.FullMode);
        Assert.Equal(SocketProtocol.Raw, socket.Protocol);
        Assert.Equal(["log"], socket.Handlers);
    }

    [Fact]
    public void Configure_SocketListInOtherCase_StillReplacesDefaultList()
    {
        var options = Bind(
            ("Gateway:Defaults:Handlers:0", "log"),
            ("Gateway:Sockets:a:Url", "ws://h/"),
            ("Gateway:Sockets:a:handlers:0", "file"));

        Assert.Equal(["file"], options.Sockets["a"].Handlers);
    }

    [Fact]
    public void Configure_EnvironmentVariableStyleKeys_Bind()
    {
        // What Gateway__Sockets__prices__Url and friends become once the provider maps "__" to ":".
        var options = Bind(
            ("Gateway:Sockets:prices:Url", "wss://feed.example.com/prices"),
            ("Gateway:Sockets:prices:Handlers:0", "log"),
            ("Gateway:Sockets:prices:Headers:Authorization", "Bearer t"),
            ("Gateway:Sockets:prices:Enabled", "false"));

        Assert.Empty(options.BindErrors);
        var socket = options.Sockets["prices"];
        Assert.Equal(new Uri("wss://feed.example.com/prices"), socket.Url);
        Assert.Equal(["log"], socket.Handlers);
        Assert.Equal("Bearer t", socket.Headers["Authorization"]);
        Assert.False(socket.Enabled);
    }

    [Fact]
    public void Configure_RealEnvironmentVariables_Bind()
    {
        var prefix = $"GWTEST_{Guid.NewGuid():N}_";
        var variables = new Dictionary<string, string>
        {
            [prefix + "Gateway__Sockets__prices__Url"] = "wss://feed.example.com/prices",
            [prefix + "Gateway__Sockets__prices__Handlers__0"] = "file",
            [prefix + "Gateway__Defaults__Handlers__0"] = "log",
            [prefix + "Gateway__Defaults__Handlers__1"] = "other",
            [prefix + "Gateway__Sockets__prices__Reconnect__MaxDelay"] = "00:01:00",
        };
        try
        {
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            var options = Bind(new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build());

            Assert.Empty(options.BindErrors);
            var socket = options.Sockets["prices"];
            Assert.Equal(new Uri("wss://feed.example.com/prices"), socket.Url);
            Assert.Equal(["file"], socket.Handlers);
            Assert.Equal(TimeSpan.FromMinutes(1), socket.Reconnect.MaxDelay);
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
        }
    }

    [Fact]
    public void Configure_NoGatewaySection_BindsNothing()
    {
        var options = Bind(("Logging:LogLevel:Default", "Information"));

        Assert.Empty(options.Sockets);
        Assert.Empty(options.BindErrors);
        Assert.Equal(TimeSpan.FromSeconds(10), options.ShutdownTimeout);
    }

    [Fact]
    public void Configure_ValuesWhereSectionsAreExpectedAndTheReverse_EachReportedWithItsKeyNeverIgnored()
    {
        var json = """
            { "Gateway": {
                "ShutdownTimeout": { "a": 1 },
                "Api": "secret-api-key",
                "Sockets": { "feed": {
                    "Url": { "Host": "x" },
                    "Headers": { "X-A": { "nested": "y" } },
                    "Handlers": { "x": { "y": 1 } },
                    "Reconnect": 5,
                    "OnConnect": "hello" } } } }
            """;
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

        var errors = Bind(configuration).BindErrors;

        Assert.Contains("Gateway:ShutdownTimeout: a section of keys where a single value is expected", errors);
        Assert.Contains("Gateway:Api: a single value where a section of keys is expected", errors);
        Assert.Contains("Gateway:Sockets:feed:Url: a section of keys where a single value is expected", errors);
        Assert.Contains("Gateway:Sockets:feed:Headers:X-A: a section of keys where a single value is expected", errors);
        Assert.Contains("Gateway:Sockets:feed:Handlers:x: a section of keys where a single value is expected", errors);
        Assert.Contains("Gateway:Sockets:feed:Reconnect: a single value where a section of keys is expected", errors);
        Assert.Contains("Gateway:Sockets:feed:OnConnect: a single value where a list is expected", errors);
        Assert.DoesNotContain(errors, e => e.Contains("secret-api-key", StringComparison.Ordinal));
    }

    [Fact]
    public void Configure_EmptyListsAndSections_StillMeanUnsetWithoutErrors()
    {
        var json = """{ "Gateway": { "Api": {}, "Sockets": { "feed": { "Url": "ws://h/", "Handlers": [], "Headers": {}, "Reconnect": {}, "OnConnect": [] } } } }""";
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

        Assert.Empty(Bind(configuration).BindErrors);
    }

    [Fact]
    public void Configure_StatusPageUnset_Enabled()
        => Assert.True(Bind(("Gateway:Sockets:a:Url", "ws://h/")).StatusPage.Enabled);

    [Fact]
    public void Configure_StatusPageEnabledFalse_Disabled()
    {
        var options = Bind(("Gateway:StatusPage:Enabled", "false"));

        Assert.Empty(options.BindErrors);
        Assert.False(options.StatusPage.Enabled);
    }

    [Fact]
    public void Configure_StatusPageEnabledNotABoolean_ErrorNamesTheKey()
    {
        var options = Bind(("Gateway:StatusPage:Enabled", "maybe"), ("Gateway:StatusPage:Colour", "red"));

        Assert.Contains(options.BindErrors, e => e.StartsWith("Gateway:StatusPage:Enabled:", StringComparison.Ordinal));
        Assert.Contains(options.BindErrors, e => e.StartsWith("Gateway:StatusPage:Colour: unknown key", StringComparison.Ordinal));
    }
}
