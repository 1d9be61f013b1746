using Gateway.Host.Dispatch;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Host.Tests.Dispatch;

public sealed class LogThrottleTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly LogThrottle _throttle = new();

    [Fact]
    public void ShouldLog_FirstError_LogsWithNothingSuppressed()
    {
        var log = _throttle.ShouldLog(_time, out var suppressed);

        Assert.True(log);
        Assert.Equal(0, suppressed);
    }

    [Fact]
    public void ShouldLog_ErrorsWithinInterval_AreSuppressed()
    {
        _throttle.ShouldLog(_time, out _);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(_throttle.ShouldLog(_time, out var first));
        _time.Advance(TimeSpan.FromSeconds(8.999));
        Assert.False(_throttle.ShouldLog(_time, out var second));

        Assert.Equal(0, first);
        Assert.Equal(0, second);
    }

    [Fact]
    public void ShouldLog_AfterInterval_LogsWithSuppressedCount()
    {
        _throttle.ShouldLog(_time, out _);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(_throttle.ShouldLog(_time, out _));
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        var log = _throttle.ShouldLog(_time, out var suppressed);

        Assert.True(log);
        Assert.Equal(5, suppressed);
    }

    [Fact]
    public void ShouldLog_ExactlyOneIntervalLater_Logs()
    {
        _throttle.ShouldLog(_time, out _);
        _time.Advance(LogThrottle.Interval - TimeSpan.FromTicks(1));
        Assert.False(_throttle.ShouldLog(_time, out _));

        _time.Advance(TimeSpan.FromTicks(1));
        var log = _throttle.ShouldLog(_time, out var suppressed);

        Assert.True(log);
        Assert.Equal(1, suppressed);
    }

    [Fact]
    public void ShouldLog_AfterLogging_SuppressedCountResets()
    {
        _throttle.ShouldLog(_time, out _);
        _throttle.ShouldLog(_time, out _);
        _throttle.ShouldLog(_time, out _);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(_throttle.ShouldLog(_time, out var firstCount));

        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.False(_throttle.ShouldLog(_time, out _));
        _time.Advance(TimeSpan.FromSeconds(7));
        Assert.True(_throttle.ShouldLog(_time, out var secondCount));

        Assert.Equal(2, firstCount);
        Assert.Equal(1, secondCount);
    }

    [Fact]
    public void ShouldLog_QuietPeriodThenError_LogsWithZeroSuppressed()
    {
        _throttle.ShouldLog(_time, out _);
        _time.Advance(TimeSpan.FromMinutes(5));

        var log = _throttle.ShouldLog(_time, out var suppressed);

        Assert.True(log);
        Assert.Equal(0, suppressed);
    }

    [Fact]
    public void ShouldLog_IntervalCountsFromLastLoggedError_NotFromLastSuppressed()
    {
        _throttle.ShouldLog(_time, out _);
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(_throttle.ShouldLog(_time, out _));

        // 10 s after the logged error, 1 s after the suppressed one.
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(_throttle.ShouldLog(_time, out var suppressed));
        Assert.Equal(1, suppressed);
    }

    [Fact]
    public void ShouldLog_SeparateInstances_ThrottleIndependently()
    {
        var other = new LogThrottle();
        _throttle.ShouldLog(_time, out _);

        Assert.True(other.ShouldLog(_time, out _));
        Assert.False(_throttle.ShouldLog(_time, out _));
    }

    [Fact]
    public void ShouldLog_Burst_FirstNLoggedThenSuppressedUntilTheWindowEndsThenCountReported()
    {
        var throttle = new LogThrottle(burst: 3);

        var logged = Enumerable.Range(0, 10).Select(i => throttle.ShouldLog(_time, out _)).ToList();
        _time.Advance(LogThrottle.Interval - TimeSpan.FromMilliseconds(1));
        var stillHeld = throttle.ShouldLog(_time, out _);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var next = throttle.ShouldLog(_time, out var suppressed);

        Assert.Equal([true, true, true, false, false, false, false, false, false, false], logged);
        Assert.False(stillHeld);
        Assert.True(next);
        Assert.Equal(8L, suppressed);
    }
}
