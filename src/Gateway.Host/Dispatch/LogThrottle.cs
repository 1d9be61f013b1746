namespace Gateway.Host.Dispatch;

/// <summary>
/// Lets the first of a repeating problem (a failing handler, a dropping queue) through at once, then at most one log line per interval
/// with the count in between, so a problem that repeats on every frame cannot flood the log.
/// Every occurrence is still counted in metrics.
/// </summary>
internal sealed class LogThrottle
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private long _lastLogged = long.MinValue;
    private long _suppressed;

    /// <summary>Returns true when this error should be logged, with how many were suppressed since the last one.</summary>
    public bool ShouldLog(TimeProvider time, out long suppressedSinceLast)
    {
        var now = time.GetTimestamp();
        if (_lastLogged != long.MinValue && time.GetElapsedTime(_lastLogged, now) < Interval)
        {
            _suppressed++;
            suppressedSinceLast = 0;
            return false;
        }

        _lastLogged = now;
        suppressedSinceLast = _suppressed;
        _suppressed = 0;
        return true;
    }
}
