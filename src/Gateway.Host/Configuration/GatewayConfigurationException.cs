namespace Gateway.Host.Configuration;

/// <summary>Thrown at startup when the <c>Gateway</c> configuration is invalid; lists every problem by key.</summary>
internal sealed class GatewayConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid Gateway configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;

    /// <summary>
    /// One line for a configuration file that could not be read: the file (from the loader's message),
    /// the parser's problem with its line, and what a duplicate key means here.
    /// </summary>
    public static string DescribeFileError(Exception exception)
    {
        var problem = exception.GetBaseException().Message;
        if (problem.StartsWith("A duplicate key", StringComparison.Ordinal))
        {
            problem += " Keys are case-insensitive: two entries (e.g. socket names) that differ only in case are the same key.";
        }

        return $"Invalid configuration file: {exception.Message} {problem}";
    }
}
