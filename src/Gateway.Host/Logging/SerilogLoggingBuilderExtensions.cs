using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Json;

namespace Microsoft.Extensions.Logging;

/// <summary>Serilog behind Microsoft.Extensions.Logging (Serilog.AspNetCore is not in our package source).</summary>
internal static class SerilogLoggingBuilderExtensions
{
    private const string TextTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext} [{EventId}] {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Replaces the default providers with Serilog, configured from the <c>Serilog</c> section
    /// (<c>MinimumLevel</c>, <c>MinimumLevel:Override</c>, extra sinks). Console output is readable
    /// text in Development and one JSON object per line elsewhere (containers, log shippers).
    /// </summary>
    public static ILoggingBuilder AddGatewaySerilog(this ILoggingBuilder logging, IConfiguration configuration, IHostEnvironment environment)
    {
        var serilog = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .ReadFrom.Configuration(configuration)
            .Enrich.FromLogContext();
        serilog = environment.IsDevelopment()
            ? serilog.WriteTo.Console(outputTemplate: TextTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            : serilog.WriteTo.Console(new JsonFormatter(renderMessage: true));

        // Serilog does the level filtering; let everything through the Microsoft.Extensions.Logging layer.
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddSerilog(serilog.CreateLogger(), dispose: true);
        return logging;
    }
}
