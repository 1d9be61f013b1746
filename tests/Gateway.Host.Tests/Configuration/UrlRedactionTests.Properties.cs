using CsCheck;
using Gateway.Host.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class UrlRedactionTests
{
    // Each kind of secret starts and ends with letters of its own range (G-K, L-P, Q-U, V-Z): no secret can
    // appear inside another, nor in a scheme, host, path or "redacted" (all lower case), nor in a %XX escape (0-9A-F).
    private const string Specials = " @:/?#&=%+!$'()*,;";

    private static readonly Gen<string> s_lower = Gen.Char['a', 'z'].Array[1, 8].Select(c => new string(c));

    private static readonly Gen<string> s_host = Gen.OneOf(
        s_lower.Array[1, 3].Select(labels => string.Join('.', labels)),
        Gen.OneOf("localhost", "127.0.0.1", "[::1]"));

    private static readonly Gen<string> s_port = Gen.OneOf(Gen.Const(string.Empty), Gen.Int[1, 65535].Select(p => $":{p}"));

    private static readonly Gen<string> s_path = s_lower.Array[0, 3].Select(segments => "/" + string.Join('/', segments));

    private static readonly Gen<SecretUrl> s_secretUrl = Gen.Select(
        Gen.OneOf("ws", "wss"),
        Secret('G', 'K').Array[0, 1].Select(a => a.SingleOrDefault()),
        Secret('L', 'P').Array[0, 1].Select(a => a.SingleOrDefault()),
        Gen.Select(s_host, s_port, s_path),
        Gen.Select(s_lower, Secret('Q', 'U')).Array[0, 3],
        Secret('V', 'Z').Array[0, 1].Select(a => a.SingleOrDefault()),
        (scheme, user, password, where, query, fragment) => new SecretUrl(scheme, user, user is null ? null : password, where.Item1, where.Item2, where.Item3, query, fragment));

    private static Gen<string> Secret(char first, char last)
    {
        var letter = Gen.Char[first, last];
        return Gen.Select(letter, Gen.Char[new string([.. Enumerable.Range(first, last - first + 1).Select(c => (char)c)]) + Specials].Array[0, 10], letter,
            (head, middle, tail) => head + new string(middle) + tail);
    }

    [Fact]
    public void ForDisplay_UrlsWithUserInfoQueryAndFragment_ShowNoSecretAndKeepSchemeHostPortPath()
    {
        s_secretUrl.Sample(url =>
        {
            var original = url.ToUri();

            var display = UrlRedaction.ForDisplay(original);

            Assert.Equal(original.Scheme, display.Scheme);
            Assert.Equal(original.Host, display.Host);
            Assert.Equal(original.Port, display.Port);
            Assert.Equal(original.AbsolutePath, display.AbsolutePath);
            Assert.Equal(string.Empty, display.UserInfo);
            Assert.Equal(url.Query.Length == 0 ? string.Empty : "?redacted", display.Query);
            Assert.Equal(string.Empty, display.Fragment);
            AssertShowsNone(display, url.Secrets());
        }, iter: 300);
    }

    [Fact]
    public void WithoutUserInfo_UrlsWithUserInfoQueryAndFragment_DropOnlyTheUserInfo()
    {
        s_secretUrl.Sample(url =>
        {
            var original = url.ToUri();

            var connect = UrlRedaction.WithoutUserInfo(original);

            Assert.Equal(original.Scheme, connect.Scheme);
            Assert.Equal(original.Host, connect.Host);
            Assert.Equal(original.Port, connect.Port);
            Assert.Equal(original.PathAndQuery, connect.PathAndQuery);
            Assert.Equal(original.Fragment, connect.Fragment);
            Assert.Equal(string.Empty, connect.UserInfo);
            AssertShowsNone(connect, [url.User, url.Password]);
        }, iter: 300);
    }

    private static void AssertShowsNone(Uri url, IEnumerable<string?> secrets)
    {
        foreach (var secret in secrets.OfType<string>())
        {
            foreach (var form in new[] { secret, Uri.EscapeDataString(secret) })
            {
                Assert.DoesNotContain(form, url.ToString(), StringComparison.Ordinal);
                Assert.DoesNotContain(form, url.AbsoluteUri, StringComparison.Ordinal);
                Assert.DoesNotContain(form, url.OriginalString, StringComparison.Ordinal);
            }
        }
    }

    private sealed record SecretUrl(
        string Scheme, string? User, string? Password, string Host, string Port, string Path, (string Key, string Value)[] Query, string? Fragment)
    {
        public IEnumerable<string?> Secrets() => [User, Password, .. Query.Select(q => q.Value), Fragment];

        public Uri ToUri()
        {
            var userInfo = User is null ? string.Empty : Uri.EscapeDataString(User) + (Password is null ? string.Empty : ":" + Uri.EscapeDataString(Password)) + "@";
            var query = Query.Length == 0 ? string.Empty : "?" + string.Join('&', Query.Select(q => q.Key + "=" + Uri.EscapeDataString(q.Value)));
            var fragment = Fragment is null ? string.Empty : "#" + Uri.EscapeDataString(Fragment);
            return new Uri($"{Scheme}://{userInfo}{Host}{Port}{Path}{query}{fragment}");
        }

        public override string ToString() => ToUri().OriginalString;
    }
}
