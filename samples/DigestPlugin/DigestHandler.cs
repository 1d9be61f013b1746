using System.Globalization;
using System.Runtime.Loader;
using System.Text.Json;
using Gateway;
using K4os.Hash.xxHash;
using Microsoft.Extensions.Configuration;

namespace DigestPlugin;

/// <summary>
/// Appends each frame to a JSON-lines file (<c>Gateway:Handlers:digest:Path</c>, by default
/// <c>digest.jsonl</c>) with its xxHash64, computed by the plug-in's own dependency.
/// </summary>
public sealed class DigestHandler : IFrameHandler, IDisposable
{
    /// <summary>The name sockets list in their <c>Handlers</c>.</summary>
    public const string Name = "digest";

    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;

    /// <summary>Opens the output file.</summary>
    /// <param name="configuration">The gateway's configuration (shared with the gateway, like every <c>Microsoft.Extensions.*</c> abstraction).</param>
    public DigestHandler(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var path = configuration["Gateway:Handlers:digest:Path"] ?? "digest.jsonl";
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    /// <inheritdoc/>
    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        var line = JsonSerializer.Serialize(new DigestLine(
            frame.SocketName,
            frame.GetText(),
            XXH64.DigestOf(frame.Payload.Span).ToString("x16", CultureInfo.InvariantCulture),
            AssemblyLoadContext.GetLoadContext(typeof(XXH64).Assembly)?.Name));
        lock (_lock)
        {
            _writer.WriteLine(line);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();

    /// <summary>One line of the output: the frame, its digest, and which load context the hashing library came from.</summary>
    private sealed record DigestLine(string Socket, string Text, string Xxh64, string? HashLibraryLoadContext);
}
