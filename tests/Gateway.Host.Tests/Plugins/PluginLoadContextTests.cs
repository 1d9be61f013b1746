using System.Reflection;
using Gateway.Host.Plugins;

namespace Gateway.Host.Tests.Plugins;

public sealed class PluginLoadContextTests
{
    [Theory]
    [InlineData("Gateway.Abstractions", true)]
    [InlineData("Microsoft.Extensions.DependencyInjection.Abstractions", true)]
    [InlineData("Microsoft.Extensions.Logging.Abstractions", true)]
    [InlineData("Microsoft.Extensions.Options", true)]
    [InlineData("Microsoft.Extensions.NotAnAssemblyTheHostHas", false)]
    [InlineData("K4os.Hash.xxHash", false)]
    [InlineData("StackExchange.Redis", false)]
    public void IsShared_AssemblyName_OnlyTheContractAndTheHostsMicrosoftExtensions(string name, bool shared)
        => Assert.Equal(shared, PluginLoadContext.IsShared(new AssemblyName(name)));
}
