using System.Security.Cryptography;
using System.Text;
using Gateway.Host.Sockets;
using Microsoft.AspNetCore.Http;

namespace Gateway.Host.Endpoints;

/// <summary>
/// Guards mutating endpoints: <c>X-Api-Key</c> must match <c>Gateway:Api:Key</c> (compared in
/// constant time). With no key configured they answer 403 unless <c>Gateway:Api:AllowAnonymous</c>.
/// </summary>
internal sealed class ApiKeyEndpointFilter(ISocketDirectory sockets) : IEndpointFilter
{
    public const string HeaderName = "X-Api-Key";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var api = sockets.Api;
        if (string.IsNullOrEmpty(api.Key))
        {
            return api.AllowAnonymous
                ? next(context)
                : ValueTask.FromResult<object?>(Results.Json(new { error = "the send API is disabled: set Gateway:Api:Key (or Gateway:Api:AllowAnonymous)" }, statusCode: StatusCodes.Status403Forbidden));
        }

        var presented = context.HttpContext.Request.Headers[HeaderName].ToString();
        return Matches(presented, api.Key)
            ? next(context)
            : ValueTask.FromResult<object?>(Results.Json(new { error = $"missing or wrong {HeaderName}" }, statusCode: StatusCodes.Status401Unauthorized));
    }

    // Hash first so the comparison takes the same time whatever the lengths.
    internal static bool Matches(string presented, string expected)
        => CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
