using Gateway.Host.Configuration;
using Gateway.Host.Sockets;

namespace Gateway.Host.Tests.Sockets;

public sealed partial class ReconnectBackoffTests
{
    // The largest double below 1: the top of the [0, 1) range Random.NextDouble returns.
    private static readonly double s_almostOne = Math.BitDecrement(1.0);

    private static ReconnectOptions Options(int minMs = 200, int maxMs = 30_000, double factor = 2, double jitter = 0)
        => new()
        {
            MinDelay = TimeSpan.FromMilliseconds(minMs),
            MaxDelay = TimeSpan.FromMilliseconds(maxMs),
            Factor = factor,
            Jitter = jitter,
        };

    [Theory]
    [InlineData(1, 200)]
    [InlineData(2, 800)]
    [InlineData(3, 1800)]
    [InlineData(4, 3200)]
    [InlineData(10, 20_000)]
    public void GetDelay_NoJitter_IsMinDelayTimesAttemptToThePowerOfFactor(int attempt, int expectedMs)
    {
        var delay = ReconnectBackoff.GetDelay(Options(), attempt, random: 0.73);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), delay);
    }

    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 200)]
    [InlineData(5, 500)]
    public void GetDelay_FactorOne_GrowsLinearly(int attempt, int expectedMs)
    {
        var delay = ReconnectBackoff.GetDelay(Options(minMs: 100, factor: 1), attempt, random: 0);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), delay);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void GetDelay_AttemptZeroOrNegative_IsTreatedAsFirstAttempt(int attempt)
    {
        var delay = ReconnectBackoff.GetDelay(Options(minMs: 250, factor: 3), attempt, random: 0);

        Assert.Equal(TimeSpan.FromMilliseconds(250), delay);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(100)]
    [InlineData(int.MaxValue)]
    public void GetDelay_ScaledDelayAboveMaxDelay_IsCappedAtMaxDelay(int attempt)
    {
        // 200 ms * 6^2 = 7.2 s > 5 s.
        var delay = ReconnectBackoff.GetDelay(Options(maxMs: 5_000, factor: 2), attempt, random: 0.5);

        Assert.Equal(TimeSpan.FromSeconds(5), delay);
    }

    [Fact]
    public void GetDelay_JustBelowMaxDelay_IsNotCapped()
    {
        // 200 ms * 5^2 = 5 s, MaxDelay 5.001 s.
        var delay = ReconnectBackoff.GetDelay(Options(maxMs: 5_001), 5, random: 0);

        Assert.Equal(TimeSpan.FromSeconds(5), delay);
    }

    [Fact]
    public void GetDelay_RandomZero_SubtractsFullJitter()
    {
        var delay = ReconnectBackoff.GetDelay(Options(jitter: 0.2), 1, random: 0);

        Assert.Equal(TimeSpan.FromMilliseconds(160), delay);
    }

    [Fact]
    public void GetDelay_RandomHalf_AddsNoJitter()
    {
        var delay = ReconnectBackoff.GetDelay(Options(jitter: 0.2), 2, random: 0.5);

        Assert.Equal(TimeSpan.FromMilliseconds(800), delay);
    }

    [Fact]
    public void GetDelay_RandomApproachingOne_AddsAlmostFullJitter()
    {
        var delay = ReconnectBackoff.GetDelay(Options(jitter: 0.2), 1, s_almostOne);

        // Just below +20 %; the remaining difference is far below one tick.
        Assert.InRange(delay, TimeSpan.FromMilliseconds(239.999), TimeSpan.FromMilliseconds(240));
    }

    [Fact]
    public void GetDelay_ManySamples_StayWithinJitterBounds()
    {
        var options = Options(jitter: 0.5);
        var random = new Random(12345);
        for (var i = 0; i < 1000; i++)
        {
            var delay = ReconnectBackoff.GetDelay(options, 3, random.NextDouble());

            Assert.InRange(delay, TimeSpan.FromMilliseconds(900), TimeSpan.FromMilliseconds(2700));
        }
    }

    [Fact]
    public void GetDelay_Capped_JitterAppliesAfterTheCap()
    {
        var options = Options(maxMs: 1_000, jitter: 0.5);

        Assert.Equal(TimeSpan.FromMilliseconds(500), ReconnectBackoff.GetDelay(options, 50, random: 0));
        Assert.Equal(TimeSpan.FromMilliseconds(1_000), ReconnectBackoff.GetDelay(options, 50, random: 0.5));
        Assert.InRange(ReconnectBackoff.GetDelay(options, 50, s_almostOne), TimeSpan.FromMilliseconds(1_499.99), TimeSpan.FromMilliseconds(1_500));
    }

    [Fact]
    public void GetDelay_FullJitterAndRandomZero_IsZeroNotNegative()
    {
        var delay = ReconnectBackoff.GetDelay(Options(jitter: 1), 3, random: 0);

        Assert.Equal(TimeSpan.Zero, delay);
    }

    [Fact]
    public void GetDelay_DefaultOptions_FirstRetryIsAround200Milliseconds()
    {
        var options = new ReconnectOptions();

        Assert.Equal(TimeSpan.FromMilliseconds(160), ReconnectBackoff.GetDelay(options, 1, random: 0));
        Assert.Equal(TimeSpan.FromSeconds(30), ReconnectBackoff.GetDelay(options, 1000, random: 0.5));
    }
}
