using System.Text;
using CsCheck;

namespace Gateway.Host.Tests.Abstractions;

public sealed class FrameHeadersTests
{
    private static FrameHeaders Headers(string block) => new(Encoding.UTF8.GetBytes(block));

    [Fact]
    public void TryGetValue_RepeatedName_FirstValueWins()
    {
        var headers = Headers("destination:/queue/a\nmessage-id:7\ndestination:/queue/b\n");

        Assert.Equal("/queue/a", headers["destination"]);
        Assert.Equal("7", headers["message-id"]);
        Assert.Null(headers["Destination"]); // case-sensitive, as STOMP
        Assert.Equal(3, headers.ToList().Count);
    }

    [Fact]
    public void TryGetValue_EscapedNameAndValueWithCrLf_Decoded()
    {
        var headers = Headers("a\\cb:x\\ny\\r\\\\z\\c\r\nplain:v\r\n");

        Assert.Equal("x\ny\r\\z:", headers["a:b"]);
        Assert.Equal("v", headers["plain"]);
        Assert.Equal([new("a:b", "x\ny\r\\z:"), new KeyValuePair<string, string>("plain", "v")], headers.ToList());
    }

    [Fact]
    public void TryGetValue_NoHeaders_EmptyAndNothingFound()
    {
        var headers = default(FrameHeaders);

        Assert.True(headers.IsEmpty);
        Assert.False(headers.TryGetValue("destination", out _));
        Assert.Empty(headers.ToList());
    }

    [Fact]
    public void ToList_AnyHeadersEscapedAsStomp_RoundTripsAndFirstWins()
    {
        var text = Gen.String[Gen.Char["abcXYZ019:\\\n\ré€ -"], 0, 12];
        var name = Gen.String[Gen.Char["abc-id:\\\n"], 1, 8];
        Gen.Select(name, text).Array[0, 8].Sample(pairs =>
        {
            var block = new StringBuilder();
            foreach (var (n, v) in pairs)
            {
                block.Append(Escape(n)).Append(':').Append(Escape(v)).Append('\n');
            }

            var headers = Headers(block.ToString());
            Assert.Equal(pairs.Select(p => new KeyValuePair<string, string>(p.Item1, p.Item2)), headers.ToList());
            foreach (var (n, _) in pairs)
            {
                Assert.Equal(pairs.First(p => p.Item1 == n).Item2, headers[n]);
            }
        });
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace(":", "\\c", StringComparison.Ordinal);
}
