using Gateway.Host.Plugins;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Gateway.Host.Endpoints;

/// <summary><c>GET /plugins</c>: the plug-ins loaded at startup and what each registered (docs/api.md).</summary>
internal static class PluginEndpoints
{
    public static void MapPluginList(this IEndpointRouteBuilder endpoints)
        => endpoints.MapGet("/plugins", static (PluginCatalog catalog) => Results.Json(catalog.Plugins, SocketApiEndpoints.JsonOptions));
}
