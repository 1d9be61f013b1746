using CsCheck;
using Gateway.Host.Configuration;
using Gateway.Host.Sockets;

namespace Gateway.Host.Tests.Sockets;

public sealed partial class ReconnectBackoffTests
{
    // Options the validator accepts: MinDelay > 0, MaxDelay >= MinDelay, Factor 1 to 10, Jitter 0 to 1.
    private static readonly Gen<ReconnectOptions> s_options = Options(Gen.OneOf(Gen.Const(0.0), Gen.Double[0, 1], Gen.Const(1.0)));

    private static readonly Gen<ReconnectOptions> s_optionsWithoutJitter = Options(Gen.Const(0.0));

    // Any attempt number, with the small ones (where the cap is not reached yet) as likely as the rest.
    private static readonly Gen<int> s_attempt = Gen.OneOf(Gen.Int[-3, 50], Gen.Int);

    [Fact]
    public void GetDelay_AnyValidOptionsAttemptAndRandom_IsWithinMinDelayMinusJitterAndMaxDelayPlusJitter()
    {
        Gen.Select(s_options, s_attempt, Gen.Double.Unit).Sample((options, attempt, random) =>
        {
            var delay = ReconnectBackoff.GetDelay(options, attempt, random);

            // One tick of slack either way for rounding milliseconds (a double) to ticks.
            var lowest = Math.Max(0, (options.MinDelay.Ticks * (1 - options.Jitter)) - 1);
            var highest = (options.MaxDelay.Ticks * (1 + options.Jitter)) + 1;
            Assert.InRange<double>(delay.Ticks, lowest, highest);
        }, iter: 500, print: Print);
    }

    [Fact]
    public void GetDelay_NoJitter_IsBetweenMinDelayAndMaxDelayAndIndependentOfRandom()
    {
        Gen.Select(s_optionsWithoutJitter, s_attempt, Gen.Double.Unit).Sample((options, attempt, random) =>
        {
            var delay = ReconnectBackoff.GetDelay(options, attempt, random);

            Assert.InRange(delay, options.MinDelay - TimeSpan.FromTicks(1), options.MaxDelay);
            Assert.Equal(ReconnectBackoff.GetDelay(options, attempt, 0), delay);
        }, iter: 500, print: Print);
    }

    [Fact]
    public void GetDelay_NoJitter_NeverDecreasesFromOneAttemptToTheNext()
    {
        Gen.Select(s_optionsWithoutJitter, Gen.Int[-3, 200]).Sample((options, first) =>
        {
            var previous = ReconnectBackoff.GetDelay(options, first, 0.5);
            for (var attempt = first + 1; attempt <= first + 20; attempt++)
            {
                var delay = ReconnectBackoff.GetDelay(options, attempt, 0.5);
                Assert.True(delay >= previous, $"attempt {attempt}: {delay} < {previous} of attempt {attempt - 1}");
                previous = delay;
            }
        }, iter: 200, print: t => Print((t.Item1, t.Item2, 0.5)));
    }

    [Fact]
    public void GetDelay_AttemptZeroOrNegative_SameAsFirstAttemptForAnyOptions()
    {
        Gen.Select(s_options, Gen.Int[int.MinValue, 0], Gen.Double.Unit).Sample((options, attempt, random) =>
            Assert.Equal(ReconnectBackoff.GetDelay(options, 1, random), ReconnectBackoff.GetDelay(options, attempt, random)),
            iter: 200, print: Print);
    }

    private static Gen<ReconnectOptions> Options(Gen<double> jitter) => Gen.Select(
        Gen.Long[1, TimeSpan.TicksPerMinute],
        Gen.Long[0, TimeSpan.TicksPerHour],
        Gen.Double[1, 10],
        jitter,
        (minTicks, extraTicks, factor, jitter) => new ReconnectOptions
        {
            MinDelay = TimeSpan.FromTicks(minTicks),
            MaxDelay = TimeSpan.FromTicks(minTicks + extraTicks),
            Factor = factor,
            Jitter = jitter,
        });

    private static string Print((ReconnectOptions Options, int Attempt, double Random) input)
        => $"MinDelay={input.Options.MinDelay.Ticks} ticks, MaxDelay={input.Options.MaxDelay.Ticks} ticks, Factor={input.Options.Factor:R}, "
            + $"Jitter={input.Options.Jitter:R}, attempt={input.Attempt}, random={input.Random:R}";
}
