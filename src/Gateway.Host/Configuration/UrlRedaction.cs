namespace Gateway.Host.Configuration;

/// <summary>Keeps credentials in URLs out of logs, health output and handler-visible state.</summary>
internal static class UrlRedaction
{
    /// <summary>The URL without user info and with the query replaced by <c>?redacted</c>.</summary>
    public static Uri ForDisplay(Uri url)
    {
        // Nothing to hide: the same instance, so a socket keeps one Uri, not three.
        if (!url.IsAbsoluteUri || (url.UserInfo.Length == 0 && url.Query.Length <= 1 && url.Fragment.Length == 0))
        {
            return url;
        }

        var builder = new UriBuilder(url) { UserName = string.Empty, Password = string.Empty, Fragment = string.Empty };
        if (builder.Query.Length > 1)
        {
            builder.Query = "redacted";
        }

        return builder.Uri;
    }

    /// <summary>The URL to connect to: user info moves to an Authorization header instead.</summary>
    public static Uri WithoutUserInfo(Uri url)
        => !url.IsAbsoluteUri || url.UserInfo.Length == 0 ? url : new UriBuilder(url) { UserName = string.Empty, Password = string.Empty }.Uri;
}
