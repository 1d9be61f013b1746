using System.Globalization;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Serilog (Serilog.AspNetCore) as the host's only logging provider.</summary>
internal static class GatewayLoggingServiceCollectionExtensions
{
    private const string TextTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext} [{EventId}] {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Configured from the <c>Serilog</c> section (<c>MinimumLevel</c>, <c>MinimumLevel:Override</c>,
    /// extra sinks). Console output is readable text in Development and CLEF (one compact JSON
    /// object per line: <c>@t</c>, <c>@mt</c>, <c>@l</c>, ...) elsewhere, for containers and log shippers.
    /// </summary>
    /// <remarks>
    /// No bootstrap logger and the static <see cref="Log.Logger"/> left alone: each host owns its
    /// logger, so several hosts in one process (tests) never share or freeze one.
    /// </remarks>
    public static IServiceCollection AddGatewaySerilog(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSerilog(
            (provider, serilog) =>
            {
                serilog
                    .MinimumLevel.Information()
                    .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
                    .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)

                    // It logs an Error at every probe while a socket is down; state changes (event 100) already say it once.
                    .MinimumLevel.Override("Microsoft.Extensions.Diagnostics.HealthChecks", LogEventLevel.Fatal)
                    .ReadFrom.Configuration(configuration)
                    .ReadFrom.Services(provider)
                    .Enrich.FromLogContext()

                    // Invalid configuration (logged key by key, event 400) and a port in use are printed once,
                    // plainly, by Program; the host's "Hosting failed to start" with its stack trace would only bury that.
                    .Filter.ByExcluding(static e => e.Exception is GatewayConfigurationException or Microsoft.Extensions.Options.OptionsValidationException or IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException }
                        || (e.Exception is InvalidOperationException binder && Program.IsBinderError(binder)));
                if (environment.IsDevelopment())
                {
                    serilog.WriteTo.Console(outputTemplate: TextTemplate, formatProvider: CultureInfo.InvariantCulture);
                }
                else
                {
                    serilog.WriteTo.Console(new CompactJsonFormatter());
                }
            },
            preserveStaticLogger: true);
        return services;
    }
}
