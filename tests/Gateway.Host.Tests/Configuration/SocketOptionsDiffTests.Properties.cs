using CsCheck;
using Gateway.Host.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class SocketOptionsDiffTests
{
    private static readonly string[] s_names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    private static readonly string[] s_headerNames = ["X-Tenant", "Authorization", "X-Trace"];

    private static readonly Gen<SocketSpec> s_socket = Gen.Select(
        Gen.Bool,
        Gen.Int[0, 2],
        Gen.OneOf("log", "file", "audit").Array[1, 3],
        Gen.Select(Gen.Bool, Gen.OneOf("a", "b")).Array[s_headerNames.Length, s_headerNames.Length],
        Gen.OneOf(16, 1024),
        (enabled, url, handlers, headers, capacity) => new SocketSpec(
            enabled,
            url,
            handlers,
            [.. headers.Select((h, i) => (Present: h.Item1, Name: s_headerNames[i], Value: h.Item2)).Where(h => h.Present).Select(h => (h.Name, h.Value))],
            capacity));

    // A subset of the names, each with its own settings; a name may be written in another case.
    private static readonly Gen<Dictionary<string, SocketSpec>> s_configuration = Gen.Select(Gen.Bool, s_socket, Gen.Bool).Array[s_names.Length, s_names.Length]
        .Select(picks => picks
            .Select((pick, i) => (Present: pick.Item1, Name: pick.Item3 ? s_names[i].ToUpperInvariant() : s_names[i], Spec: pick.Item2))
            .Where(p => p.Present)
            .ToDictionary(p => p.Name, p => p.Spec));

    [Fact]
    public void Compute_ConfigurationAgainstItself_IsEmpty()
    {
        s_configuration.Sample(configuration =>
        {
            var sockets = Build(configuration);

            Assert.True(SocketOptionsDiff.Compute(sockets, sockets).IsEmpty);
            Assert.True(SocketOptionsDiff.Compute(Build(configuration), Build(configuration)).IsEmpty);
        }, iter: 200);
    }

    [Fact]
    public void Compute_SameSettingsWithOtherNameCaseAndHeaderOrderAndCase_IsEmpty()
    {
        s_configuration.Sample(configuration =>
        {
            var respelled = configuration.ToDictionary(
                c => Flip(c.Key),
                c => c.Value with { Headers = [.. c.Value.Headers.Reverse().Select(h => (Flip(h.Name), h.Value))] });

            Assert.True(SocketOptionsDiff.Compute(Build(configuration), Build(respelled)).IsEmpty);
        }, iter: 200);
    }

    [Fact]
    public void Compute_AnyTwoConfigurations_AddedAndRemovedAreTheSetDifferencesOfTheEnabledNames()
    {
        Gen.Select(s_configuration, s_configuration).Sample((before, after) =>
        {
            var diff = SocketOptionsDiff.Compute(Build(before), Build(after));

            Assert.Equal(Enabled(after).Except(Enabled(before)).Order(), Canonical(diff.Added));
            Assert.Equal(Enabled(before).Except(Enabled(after)).Order(), Canonical(diff.Removed));
        }, iter: 300);
    }

    [Fact]
    public void Compute_AnyTwoConfigurations_SocketsInBothAreChangedOnlyForConnectionSettingsAndHandlersChangedOnlyForHandlers()
    {
        Gen.Select(s_configuration, s_configuration).Sample((before, after) =>
        {
            var diff = SocketOptionsDiff.Compute(Build(before), Build(after));

            var kept = Enabled(before).Intersect(Enabled(after)).ToList();
            var connectionChanged = kept.Where(n => !Spec(before, n).SameConnection(Spec(after, n))).Order();
            var onlyHandlersChanged = kept.Where(n => Spec(before, n).SameConnection(Spec(after, n))
                && !Spec(before, n).Handlers.SequenceEqual(Spec(after, n).Handlers, StringComparer.Ordinal)).Order();
            Assert.Equal(connectionChanged, Canonical(diff.Changed));
            Assert.Equal(onlyHandlersChanged, Canonical(diff.HandlersChanged));
        }, iter: 300);
    }

    private static Dictionary<string, SocketOptions> Build(Dictionary<string, SocketSpec> configuration)
    {
        var sockets = new Dictionary<string, SocketOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, spec) in configuration)
        {
            var socket = new SocketOptions
            {
                Url = new Uri($"wss://feed{spec.Url}.example.com/"),
                Enabled = spec.Enabled,
                Handlers = [.. spec.Handlers],
                Queue = { Capacity = spec.QueueCapacity },
            };
            foreach (var (header, value) in spec.Headers)
            {
                socket.Headers[header] = value;
            }

            sockets[name] = socket;
        }

        return sockets;
    }

    private static IEnumerable<string> Enabled(Dictionary<string, SocketSpec> configuration)
        => configuration.Where(c => c.Value.Enabled).Select(c => c.Key.ToLowerInvariant());

    private static SocketSpec Spec(Dictionary<string, SocketSpec> configuration, string name)
        => configuration.Single(c => string.Equals(c.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    private static IOrderedEnumerable<string> Canonical(IEnumerable<string> names) => names.Select(n => n.ToLowerInvariant()).Order();

    private static string Flip(string name)
        => string.Equals(name, name.ToUpperInvariant(), StringComparison.Ordinal) ? name.ToLowerInvariant() : name.ToUpperInvariant();

    private sealed record SocketSpec(bool Enabled, int Url, string[] Handlers, (string Name, string Value)[] Headers, int QueueCapacity)
    {
        public bool SameConnection(SocketSpec other)
            => Url == other.Url
                && QueueCapacity == other.QueueCapacity
                && Headers.Select(h => (h.Name.ToUpperInvariant(), h.Value)).Order().SequenceEqual(other.Headers.Select(h => (h.Name.ToUpperInvariant(), h.Value)).Order());

        public override string ToString()
            => $"{(Enabled ? "enabled" : "disabled")} feed{Url} queue {QueueCapacity} handlers [{string.Join(", ", Handlers)}] headers [{string.Join(", ", Headers.Select(h => $"{h.Name}={h.Value}"))}]";
    }
}
