namespace Gateway.Host.Dispatch;

/// <summary>
/// Lets the first <c>burst</c> occurrences of a repeating problem (a failing handler, a dropping
/// queue, a socket that keeps failing to connect) through at once, then nothing until the interval
/// since the first of them passed, and reports how many were held back, so a problem that repeats on
/// every frame or every reconnect cannot flood the log. Every occurrence is still counted in metrics.
/// </summary>
/// <param name="burst">How many lines each interval may log.</param>
internal sealed class LogThrottle(int burst = 1)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private long _windowStart = long.MinValue;
    private int _inWindow;
    private long _suppressed;

    /// <summary>Returns true when this occurrence should be logged, with how many were suppressed since the last logged one.</summary>
    public bool ShouldLog(TimeProvider time, out long suppressedSinceLast)
    {
        var now = time.GetTimestamp();
        // Locks itself: a socket has several throttles, and a Lock object each would cost 40 B more per throttle.
        lock (this)
        {
            if (_windowStart == long.MinValue || time.GetElapsedTime(_windowStart, now) >= Interval)
            {
                _windowStart = now;
                _inWindow = 0;
            }

            if (_inWindow >= burst)
            {
                _suppressed++;
                suppressedSinceLast = 0;
                return false;
            }

            _inWindow++;
            suppressedSinceLast = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
