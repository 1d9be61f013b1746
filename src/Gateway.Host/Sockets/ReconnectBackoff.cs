using Gateway.Host.Configuration;

namespace Gateway.Host.Sockets;

/// <summary>Delay before reconnect attempt <c>n</c>: <c>min(MaxDelay, MinDelay * n^Factor)</c>, then ± <c>Jitter</c>.</summary>
internal static class ReconnectBackoff
{
    /// <param name="options">The socket's reconnect options.</param>
    /// <param name="attempt">1 for the first retry after a failure or disconnect.</param>
    /// <param name="random">A uniform sample in [0, 1) choosing the jitter.</param>
    public static TimeSpan GetDelay(ReconnectOptions options, int attempt, double random)
    {
        var n = Math.Max(1, attempt);
        var scaled = options.MinDelay.TotalMilliseconds * Math.Pow(n, options.Factor);
        var capped = Math.Min(options.MaxDelay.TotalMilliseconds, scaled);
        var jittered = capped * (1 + (options.Jitter * ((2 * random) - 1)));
        return TimeSpan.FromMilliseconds(Math.Max(0, jittered));
    }
}
