using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Host.Tests;

public sealed class GatewayNamesTests
{
    [Fact]
    public void Claim_NameTakenByAnotherOwner_ThrowsNamingTheKindTheNameAndTheOwner()
    {
        var names = new GatewayNames();
        names.Claim(GatewayNames.FrameHandler, "prices", "plug-in 'a'");

        var error = Assert.Throws<InvalidOperationException>(() => names.Claim(GatewayNames.FrameHandler, "prices", "plug-in 'b'"));

        Assert.Equal("the frame handler name 'prices' is already registered by plug-in 'a'", error.Message);
    }

    [Fact]
    public void Claim_SameNameOtherKindOrOtherCase_Registered()
    {
        var names = new GatewayNames();

        names.Claim(GatewayNames.FrameHandler, "json", "plug-in 'a'");
        names.Claim(GatewayNames.OutboundEncoder, "json", "plug-in 'a'");
        names.Claim(GatewayNames.FrameHandler, "JSON", "plug-in 'a'");

        Assert.Equal(["json", "JSON"], names.OwnedBy("plug-in 'a'", GatewayNames.FrameHandler));
        Assert.Equal(["json"], names.OwnedBy("plug-in 'a'", GatewayNames.OutboundEncoder));
        Assert.Empty(names.OwnedBy("plug-in 'a'", GatewayNames.ConnectHook));
    }

    [Fact]
    public void AddGateway_ApplicationRegistersABuiltInName_ThrowsNamingTheGateway()
    {
        var gateway = new ServiceCollection().AddGateway(new ConfigurationBuilder().Build());

        var error = Assert.Throws<InvalidOperationException>(() => gateway.AddFrameHandler<NoOpHandler>("file"));

        Assert.Equal("the frame handler name 'file' is already registered by the gateway", error.Message);
        gateway.AddFrameHandler<NoOpHandler>("mine").AddConnectHook<NoOpHook>("file");
    }

    [Fact]
    public void AddGateway_ApplicationRegistersAConfiguredSinksName_ThrowsNamingTheSinksSection()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Gateway:Handlers:orders:Type", "rabbitmq")]).Build();
        var gateway = new ServiceCollection().AddGateway(configuration);

        var error = Assert.Throws<InvalidOperationException>(() => gateway.AddFrameHandler<NoOpHandler>("orders"));

        Assert.Equal("the frame handler name 'orders' is already registered by the rabbitmq sink configured at Gateway:Handlers:orders", error.Message);
    }

    private sealed class NoOpHandler : IFrameHandler
    {
        public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private sealed class NoOpHook : IConnectHook
    {
        public ValueTask OnConnectingAsync(ConnectContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
