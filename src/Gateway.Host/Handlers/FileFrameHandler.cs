using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Handlers;

/// <summary>
/// The built-in <c>file</c> handler: appends one JSON object per frame to
/// <c>&lt;Directory&gt;/&lt;socket&gt;.jsonl</c> and flushes it, so a reader sees every frame handled so far.
/// </summary>
internal sealed class FileFrameHandler(IOptions<FileHandlerOptions> options) : IFrameHandler, IDisposable
{
    public const string Name = "file";

    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };
    private readonly ConcurrentDictionary<string, SocketFile> _files = new(StringComparer.Ordinal);

    public ValueTask HandleAsync(Frame frame, CancellationToken cancellationToken)
    {
        var file = _files.GetOrAdd(frame.SocketName, static (name, directory) => SocketFile.Open(directory, name), options.Value.Directory);
        file.Append(frame);
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        foreach (var file in _files.Values)
        {
            file.Dispose();
        }

        _files.Clear();
    }

    private sealed class SocketFile : IDisposable
    {
        private readonly Lock _lock = new();
        private readonly FileStream _stream;
        private readonly Utf8JsonWriter _writer;

        private SocketFile(FileStream stream)
        {
            _stream = stream;
            _writer = new Utf8JsonWriter(stream, s_writerOptions);
        }

        public static SocketFile Open(string directory, string socketName)
        {
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, socketName + ".jsonl");
            return new SocketFile(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 64 * 1024));
        }

        public void Append(in Frame frame)
        {
            lock (_lock)
            {
                _writer.Reset(_stream);
                _writer.WriteStartObject();
                _writer.WriteString("socket", frame.SocketName);
                _writer.WriteNumber("connection", frame.ConnectionNumber);
                _writer.WriteNumber("seq", frame.Sequence);
                _writer.WriteString("receivedAt", frame.ReceivedAt);
                if (frame.Kind == FrameKind.Text)
                {
                    _writer.WriteString("kind", "text");
                    _writer.WriteString("text", frame.Payload.Span);
                }
                else
                {
                    _writer.WriteString("kind", "binary");
                    _writer.WriteBase64String("base64", frame.Payload.Span);
                }

                _writer.WriteEndObject();
                _writer.Flush();
                _stream.WriteByte((byte)'\n');
                _stream.Flush();
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _writer.Dispose();
                _stream.Dispose();
            }
        }
    }
}
