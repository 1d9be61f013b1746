using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Handlers;

/// <summary>
/// The built-in <c>file</c> handler: appends one JSON object per frame to
/// <c>&lt;Directory&gt;/&lt;socket&gt;.jsonl</c> in one write, so a reader sees every frame handled so
/// far and a killed process leaves whole lines. Protocol headers (STOMP) go under <c>headers</c>.
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
        private readonly ArrayBufferWriter<byte> _record = new(1024);
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private readonly Utf8JsonWriter _writer;

        private SocketFile(FileStream stream)
        {
            _stream = stream;
            _writer = new Utf8JsonWriter(_record, s_writerOptions);
        }

        /// <summary>
        /// Opens the file for appending, unbuffered: each record reaches the OS in one write, so a
        /// process killed mid-stream leaves whole lines. A file that still ends in a torn line (a
        /// crash of another writer, a full disk) gets a newline first, so the next record is whole.
        /// </summary>
        public static SocketFile Open(string directory, string socketName)
        {
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, socketName + ".jsonl");
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            if (EndsInTornLine(path))
            {
                stream.WriteByte((byte)'\n');
            }

            return new SocketFile(stream);
        }

        private static bool EndsInTornLine(string path)
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            if (reader.Length == 0)
            {
                return false;
            }

            reader.Seek(-1, SeekOrigin.End);
            return reader.ReadByte() != '\n';
        }

        public void Append(in Frame frame)
        {
            lock (_lock)
            {
                _record.ResetWrittenCount();
                _writer.Reset(_record);
                _writer.WriteStartObject();
                _writer.WriteString("socket", frame.SocketName);
                _writer.WriteNumber("connection", frame.ConnectionNumber);
                _writer.WriteNumber("seq", frame.Sequence);
                _writer.WriteString("receivedAt", frame.ReceivedAt);
                if (!frame.Headers.IsEmpty)
                {
                    _writer.WriteStartObject("headers");
                    foreach (var (name, value) in frame.Headers.ToList())
                    {
                        // The first value of a repeated header is the one that counts; JSON keeps one.
                        if (!_seen.Add(name))
                        {
                            continue;
                        }

                        _writer.WriteString(name, value);
                    }

                    _seen.Clear();
                    _writer.WriteEndObject();
                }

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
                _record.Write("\n"u8);
                _stream.Write(_record.WrittenSpan);
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
