using Gateway.Host.Configuration;
using Gateway.Host.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Handlers;

/// <summary>
/// More than one sink of a kind: a <c>Gateway:Handlers:&lt;name&gt;</c> section with
/// <c>Type: rabbitmq</c> or <c>Type: redis-stream</c> is a sink of that kind called <c>name</c>,
/// configured by the keys of its own section (the same keys as the built-in sink's). Sockets list
/// it under <c>Handlers</c> by that name; health and metrics show it by that name. Its section is
/// checked at startup, and a problem fails startup naming the key.
/// </summary>
internal static class SinkInstances
{
    public const string TypeKey = "Type";
    private const string HandlersSection = "Gateway:Handlers";

    /// <summary>
    /// Registers each declared instance, claiming its name in <paramref name="names"/> (so that a plug-in
    /// cannot take it); what cannot be registered becomes a startup error (<see cref="Errors"/>).
    /// </summary>
    public static IServiceCollection AddSinkInstances(this IServiceCollection services, IConfiguration configuration, GatewayNames names)
    {
        var errors = new List<string>();
        foreach (var section in configuration.GetSection(HandlersSection).GetChildren())
        {
            var type = section[TypeKey];
            var name = section.Key;
            if (type is null || string.Equals(name, type, StringComparison.Ordinal))
            {
                continue; // a built-in handler's own section (Type, if given, says what it is)
            }

            if (names.IsClaimed(GatewayNames.FrameHandler, name))
            {
                // Only the built-in handlers are registered by now (the application's and plug-ins' come later).
                errors.Add($"{section.Path}:{TypeKey}: '{name}' is the name of a built-in handler; give this {type} sink a name of its own");
                continue;
            }

            switch (type)
            {
                case RabbitMqSink.Name:
                    services.AddOptions<RabbitMqSinkOptions>(name).Bind(section).ValidateOnStart();
                    services.AddKeyedSingleton<IFrameHandler>(name, (sp, _) => new RabbitMqSink(
                        name, section.Path, sp.GetRequiredService<IOptionsMonitor<RabbitMqSinkOptions>>().Get(name), sp.GetRequiredService<ILogger<RabbitMqSink>>(), sp.GetRequiredService<TimeProvider>()));
                    break;
                case RedisStreamSink.HandlerName:
                    services.AddOptions<RedisStreamSinkOptions>(name).Bind(section).ValidateOnStart();
                    services.AddKeyedSingleton<IFrameHandler>(name, (sp, _) => new RedisStreamSink(
                        name, sp.GetRequiredService<IOptionsMonitor<RedisStreamSinkOptions>>().Get(name), sp.GetRequiredService<ILogger<RedisStreamSink>>(), sp.GetRequiredService<TimeProvider>()));
                    break;
                default:
                    errors.Add($"{section.Path}:{TypeKey}: '{type}' is not a sink type: {RabbitMqSink.Name} or {RedisStreamSink.HandlerName}");
                    continue;
            }

            names.Claim(GatewayNames.FrameHandler, name, $"the {type} sink configured at {section.Path}");
            services.AddSingleton<ISinkHealth>(sp => (ISinkHealth)sp.GetRequiredKeyedService<IFrameHandler>(name));
        }

        services.AddSingleton(new Registration(errors));
        services.AddSingleton<IValidateOptions<RabbitMqSinkOptions>, NamedRabbitMqValidator>();
        return services;
    }

    /// <summary>The section path of a sink's options: the built-in one's, or its named instance's.</summary>
    public static string SectionOf(string? optionsName, string builtInSection)
        => string.IsNullOrEmpty(optionsName) ? builtInSection : $"{HandlersSection}:{optionsName}";

    /// <summary>Declarations that registered nothing (an unknown type, a taken name), reported with the gateway's configuration errors.</summary>
    internal sealed record Registration(IReadOnlyList<string> Errors);

    /// <summary>
    /// A named <c>rabbitmq</c> instance is checked at startup, as it was declared on purpose; the
    /// built-in one is checked when the sink is created (see <see cref="RabbitMqSinkOptionsValidator"/>).
    /// </summary>
    private sealed class NamedRabbitMqValidator : IValidateOptions<RabbitMqSinkOptions>
    {
        public ValidateOptionsResult Validate(string? name, RabbitMqSinkOptions options)
        {
            if (string.IsNullOrEmpty(name))
            {
                return ValidateOptionsResult.Skip;
            }

            var errors = RabbitMqSinkOptionsValidator.GetErrors(options, SectionOf(name, RabbitMqSinkOptions.SectionName));
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
