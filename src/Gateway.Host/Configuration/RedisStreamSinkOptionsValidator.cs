using Gateway.Host.Handlers;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Host.Configuration;

/// <summary>Checks <c>Gateway:Handlers:redis-stream</c> at startup; messages never quote the configuration string (it may hold a password).</summary>
internal sealed class RedisStreamSinkOptionsValidator : IValidateOptions<RedisStreamSinkOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisStreamSinkOptions options)
    {
        var errors = new List<string>();
        const string Section = RedisStreamSinkOptions.SectionName;
        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            errors.Add($"{Section}:Configuration is empty.");
        }
        else
        {
            try
            {
                if (ConfigurationOptions.Parse(options.Configuration).EndPoints.Count == 0)
                {
                    errors.Add($"{Section}:Configuration names no endpoint (host:port).");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
            {
                // The library's message names the keyword, not the value: no password in it.
                errors.Add($"{Section}:Configuration cannot be parsed: {e.Message}");
            }
        }

        if (!Handlers.FrameTemplate.TryParse(options.Key, out _, out var keyError))
        {
            errors.Add($"{Section}:Key {keyError}.");
        }

        if (options.MaxLength < 0)
        {
            errors.Add($"{Section}:MaxLength must be 0 (no trimming) or more.");
        }

        if (!Enum.IsDefined(options.OnFailure))
        {
            errors.Add($"{Section}:OnFailure must be Retry or Fail.");
        }

        if (options.MaxRetryDelay <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:MaxRetryDelay must be positive.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
