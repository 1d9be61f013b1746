using Gateway.Host.Configuration;

WebApplicationBuilder builder;
try
{
    builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = args,

        // Run from the repository root (dotnet run), the root appsettings.json is used and watched;
        // from anywhere else, the copy next to the binaries.
        ContentRootPath = File.Exists("appsettings.json") ? Directory.GetCurrentDirectory() : AppContext.BaseDirectory,
    });
}
catch (InvalidDataException ex)
{
    // A malformed or ambiguous file (a missing brace, two keys that differ only in case): one clear line, no stack trace.
    await Console.Error.WriteLineAsync(GatewayConfigurationException.DescribeFileError(ex));
    return 1;
}

try
{
    // The same public entry points an application that embeds the gateway uses (docs/api.md#embedding-the-gateway).
    builder.Services.AddGatewaySerilog(builder.Configuration, builder.Environment);
    builder.Services.AddGateway(builder.Configuration);

    var app = builder.Build();
    app.UseGatewayRequestLogging();
    app.UseWebSockets();
    app.MapGateway();
    await app.RunAsync();
    return 0;
}
catch (GatewayConfigurationException ex)
{
    // Each problem was logged already (a plug-in's, found before logging started, only here); repeat them plainly, without a stack trace, and fail.
    await Console.Error.WriteLineAsync(ex.Message);
    return 1;
}
catch (Microsoft.Extensions.Options.OptionsValidationException ex)
{
    // A handler's section (e.g. Gateway:Handlers:redis-stream) checked at start: the keys, no stack trace.
    await Console.Error.WriteLineAsync($"Invalid Gateway configuration:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", ex.Failures)}");
    return 1;
}
catch (InvalidOperationException ex) when (IsBinderError(ex))
{
    // A value in a handler's section that does not convert (e.g. a duration written "soon"): the binder names the key.
    await Console.Error.WriteLineAsync($"Invalid Gateway configuration:{Environment.NewLine}  {ex.Message}");
    return 1;
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    await Console.Error.WriteLineAsync($"Cannot listen: {ex.Message} Another process uses that port; choose another with ASPNETCORE_URLS or --urls.");
    return 1;
}

/// <summary>The gateway host's entry point (public for <c>WebApplicationFactory</c>).</summary>
public partial class Program
{
    /// <summary>The configuration binder's "Failed to convert configuration value '...' at '&lt;key&gt;' to type ..." (sections the gateway does not bind itself).</summary>
    internal static bool IsBinderError(Exception exception)
        => exception.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal);
}
