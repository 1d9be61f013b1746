namespace Gateway.Host.Configuration;

/// <summary>Thrown at startup when the <c>Gateway</c> configuration is invalid; lists every problem by key.</summary>
internal sealed class GatewayConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid Gateway configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
