using System.Buffers;
using Gateway.Host.Configuration;

namespace Gateway.Host.Transport;

/// <summary>
/// Runs a socket's <see cref="IConnectHook"/> before a connect attempt and checks what it changed.
/// Every way the hook can fail ends in a <see cref="ConnectException"/> of type <see cref="ErrorType"/>,
/// so the attempt fails like a refused handshake; cancellation of the socket stays cancellation.
/// </summary>
internal static class ConnectHookInvoker
{
    public const string ErrorType = "connect_hook";

    // RFC 9110 token characters, for header names.
    private static readonly SearchValues<char> s_tokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>Calls the hook, bounded by <paramref name="timeout"/>, and returns the URL to connect to; <paramref name="headers"/> become the hook's.</summary>
    public static async Task<Uri> RunAsync(IConnectHook hook, string hookName, string socketName, int attempt, Uri url, Dictionary<string, string> headers, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var context = new ConnectContext(socketName, attempt, url);
        foreach (var (name, value) in headers)
        {
            context.Headers[name] = value;
        }

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            // WaitAsync: a hook that ignores its token still cannot hold up the socket's stop or outlast the timeout.
            await hook.OnConnectingAsync(context, timeoutSource.Token).AsTask().WaitAsync(timeoutSource.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The socket is stopping.", ex, cancellationToken);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested)
        {
            throw new ConnectException($"connect hook '{hookName}' did not complete within ConnectTimeout ({timeout.TotalSeconds:0.###} s)", null, ErrorType);
        }
        catch (Exception ex)
        {
            throw new ConnectException($"connect hook '{hookName}' failed: {ex.Message}", null, ErrorType, ex);
        }

        if (!OnlyQueryChanged(url, context.Url))
        {
            // Only the redacted form: the query may hold a token.
            var shown = context.Url.IsAbsoluteUri ? UrlRedaction.ForDisplay(context.Url).ToString() : "a relative URL";
            throw new ConnectException($"connect hook '{hookName}' changed the URL to {shown}; a connect hook may change only the query of {UrlRedaction.ForDisplay(url)}", null, ErrorType);
        }

        headers.Clear();
        foreach (var (name, value) in context.Headers)
        {
            if (value is null)
            {
                continue;
            }

            if (name.Length == 0 || name.AsSpan().ContainsAnyExcept(s_tokenChars))
            {
                throw new ConnectException($"connect hook '{hookName}' set a header with an invalid name", null, ErrorType);
            }

            if (value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                // Never echo header values: they are often credentials.
                throw new ConnectException($"connect hook '{hookName}' set the header {name} to a value with a line break", null, ErrorType);
            }

            headers[name] = value;
        }

        return context.Url;
    }

    /// <summary>Whether <paramref name="after"/> is <paramref name="before"/> with at most a different query.</summary>
    public static bool OnlyQueryChanged(Uri before, Uri after)
        => after.IsAbsoluteUri
            && Uri.Compare(before, after, UriComponents.SchemeAndServer | UriComponents.UserInfo, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0
            && Uri.Compare(before, after, UriComponents.Path | UriComponents.Fragment | UriComponents.UserInfo, UriFormat.UriEscaped, StringComparison.Ordinal) == 0;
}
