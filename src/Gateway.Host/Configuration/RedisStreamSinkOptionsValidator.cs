using Gateway.Host.Handlers;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Host.Configuration;

/// <summary>Checks <c>Gateway:Handlers:redis-stream</c> (and each named <c>redis-stream</c> instance's section) at startup; messages never quote the configuration string (it may hold a password).</summary>
internal sealed class RedisStreamSinkOptionsValidator : IValidateOptions<RedisStreamSinkOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisStreamSinkOptions options)
    {
        var errors = new List<string>();
        var section = Handlers.SinkInstances.SectionOf(name, RedisStreamSinkOptions.SectionName);
        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            errors.Add($"{section}:Configuration is empty.");
        }
        else
        {
            try
            {
                if (ConfigurationOptions.Parse(options.Configuration).EndPoints.Count == 0)
                {
                    errors.Add($"{section}:Configuration names no endpoint (host:port).");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
            {
                // The library's message names the keyword, not the value: no password in it.
                errors.Add($"{section}:Configuration cannot be parsed: {e.Message}");
            }
        }

        if (!Handlers.FrameTemplate.TryParse(options.Key, out _, out var keyError))
        {
            errors.Add($"{section}:Key {keyError}.");
        }

        if (options.MaxLength < 0)
        {
            errors.Add($"{section}:MaxLength must be 0 (no trimming) or more.");
        }

        if (!Enum.IsDefined(options.OnFailure))
        {
            errors.Add($"{section}:OnFailure must be Retry or Fail.");
        }

        if (options.MaxRetryDelay <= TimeSpan.Zero)
        {
            errors.Add($"{section}:MaxRetryDelay must be positive.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
