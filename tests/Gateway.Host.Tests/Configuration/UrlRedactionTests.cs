using Gateway.Host.Configuration;

namespace Gateway.Host.Tests.Configuration;

public sealed partial class UrlRedactionTests
{
    [Fact]
    public void ForDisplay_UserInfoAndQuery_DropsUserInfoAndRedactsQuery()
    {
        var display = UrlRedaction.ForDisplay(new Uri("wss://alice:s3cret@feed.example.com:8443/v1/prices?token=abc&x=1"));

        Assert.Equal("wss://feed.example.com:8443/v1/prices?redacted", display.AbsoluteUri);
        Assert.DoesNotContain("s3cret", display.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("abc", display.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ForDisplay_UserNameOnly_DropsIt()
    {
        var display = UrlRedaction.ForDisplay(new Uri("ws://alice@localhost:5000/feed"));

        Assert.Equal("ws://localhost:5000/feed", display.AbsoluteUri);
        Assert.Equal(string.Empty, display.UserInfo);
    }

    [Fact]
    public void ForDisplay_NoQuery_AddsNoQuery()
    {
        var display = UrlRedaction.ForDisplay(new Uri("wss://feed.example.com/v1/prices"));

        Assert.Equal("wss://feed.example.com/v1/prices", display.AbsoluteUri);
        Assert.Equal(string.Empty, display.Query);
    }

    [Fact]
    public void ForDisplay_Fragment_IsDropped()
    {
        var display = UrlRedaction.ForDisplay(new Uri("wss://feed.example.com/p?k=v#section"));

        Assert.Equal("wss://feed.example.com/p?redacted", display.AbsoluteUri);
    }

    [Fact]
    public void ForDisplay_RelativeUri_IsReturnedUnchanged()
    {
        var relative = new Uri("feed/prices?token=abc", UriKind.Relative);

        Assert.Same(relative, UrlRedaction.ForDisplay(relative));
    }

    [Fact]
    public void WithoutUserInfo_UserInfo_DropsItAndKeepsQuery()
    {
        var url = UrlRedaction.WithoutUserInfo(new Uri("wss://alice:s3cret@feed.example.com:8443/v1/prices?token=abc&x=1"));

        Assert.Equal("wss://feed.example.com:8443/v1/prices?token=abc&x=1", url.AbsoluteUri);
        Assert.Equal(string.Empty, url.UserInfo);
    }

    [Fact]
    public void WithoutUserInfo_EscapedPathAndQuery_KeepsThemEscaped()
    {
        var url = UrlRedaction.WithoutUserInfo(new Uri("wss://alice:s3cret@h/a%2Fb?token=a%2Bb%3D&x=%20y"));

        Assert.Equal("wss://h/a%2Fb?token=a%2Bb%3D&x=%20y", url.AbsoluteUri);
    }

    [Fact]
    public void WithoutUserInfo_IPv6HostAndPort_AreKept()
    {
        var url = UrlRedaction.WithoutUserInfo(new Uri("ws://alice:s3cret@[::1]:9001/feed?q=1"));

        Assert.Equal("ws://[::1]:9001/feed?q=1", url.AbsoluteUri);
    }

    [Fact]
    public void WithoutUserInfo_NoUserInfo_ReturnsSameInstance()
    {
        var original = new Uri("wss://feed.example.com/v1/prices?token=abc");

        Assert.Same(original, UrlRedaction.WithoutUserInfo(original));
    }
}
