namespace Gateway.Host.Configuration;

/// <summary><c>Gateway:Handlers:file</c>.</summary>
internal sealed class FileHandlerOptions
{
    public const string SectionName = "Gateway:Handlers:file";

    /// <summary>Where <c>&lt;socket&gt;.jsonl</c> files are written; relative paths start at the working directory.</summary>
    public string Directory { get; set; } = "frames";
}
