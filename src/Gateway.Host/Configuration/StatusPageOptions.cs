namespace Gateway.Host.Configuration;

/// <summary><c>Gateway:StatusPage</c>: the read-only status page at <c>/</c> and its event stream <c>/events</c>.</summary>
internal sealed class StatusPageOptions
{
    /// <summary>Serve the page and <c>/events</c>; read at startup (false: both answer 404).</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;
}
