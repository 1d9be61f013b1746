namespace Gateway.Host.Dispatch;

/// <summary>
/// Lets a failing handler's first error through at once, then at most one log line per interval
/// with the count of errors in between, so a handler that fails on every frame cannot flood the log.
/// Every error is still counted in metrics.
/// </summary>
internal sealed class ErrorLogThrottle
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
