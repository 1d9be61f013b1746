using System.Runtime.CompilerServices;
using Gateway.Testing;

namespace Gateway.IntegrationTests;

internal static class ClientWebSocketTransport
{
    /// <summary>Before any test: every host and process of this assembly uses <c>Transport: ClientWebSocket</c>.</summary>
    [ModuleInitializer]
    internal static void Select() => TestTransport.Name = "ClientWebSocket";
}
