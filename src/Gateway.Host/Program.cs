var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,

    // Run from the repository root (dotnet run), the root appsettings.json is used and watched;
    // from anywhere else, the copy next to the binaries.
    ContentRootPath = File.Exists("appsettings.json") ? Directory.GetCurrentDirectory() : AppContext.BaseDirectory,
});
builder.Services.AddGateway(builder.Configuration);

var app = builder.Build();
app.UseWebSockets();
app.MapGatewayEndpoints();
app.Run();

/// <summary>The gateway host's entry point (public for <c>WebApplicationFactory</c>).</summary>
public partial class Program;
