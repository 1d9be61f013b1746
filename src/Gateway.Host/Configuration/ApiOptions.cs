namespace Gateway.Host.Configuration;

/// <summary><c>Gateway:Api</c>: who may call the mutating HTTP endpoints.</summary>
internal sealed class ApiOptions
{
    /// <summary>The value callers send in <c>X-Api-Key</c>.</summary>
    public string? Key { get; set; }

    /// <summary>With no <see cref="Key"/>, allow anyone (otherwise mutating endpoints answer 403).</summary>
    public bool AllowAnonymous { get; set; }
}
