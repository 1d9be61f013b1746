using System.IO.Pipelines;
using System.Net.WebSockets;

namespace Gateway.Host.Tests.Transport;

/// <summary>
/// Two <see cref="WebSocket"/> ends framing over in-memory pipes (no network): <see cref="Client"/> is
/// the gateway's side, <see cref="Server"/> the test's.
/// </summary>
internal sealed class WebSocketPair : IDisposable
{
    private WebSocketPair(DuplexStream clientStream, DuplexStream serverStream)
    {
        ClientStream = clientStream;
        Client = WebSocket.CreateFromStream(clientStream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        Server = WebSocket.CreateFromStream(serverStream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
    }

    public WebSocket Client { get; }

    public WebSocket Server { get; }

    /// <summary>The client's stream, to hold its writes (<see cref="DuplexStream.AfterWrite"/>).</summary>
    public DuplexStream ClientStream { get; }

    /// <param name="pauseWriterThreshold">Bytes a writer may get ahead of its reader; 0: unbounded.</param>
    public static WebSocketPair Create(long pauseWriterThreshold = 0)
    {
        var options = new PipeOptions(pauseWriterThreshold: pauseWriterThreshold, resumeWriterThreshold: pauseWriterThreshold / 2, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        return new WebSocketPair(new DuplexStream(toClient.Reader, toServer.Writer), new DuplexStream(toServer.Reader, toClient.Writer));
    }

    /// <summary>Reads one whole message on the server side.</summary>
    public async Task<(WebSocketMessageType Type, byte[] Payload)> ReadOnServerAsync(CancellationToken cancellationToken = default)
    {
        using var payload = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var result = await Server.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            payload.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, payload.ToArray());
            }
        }
    }

    public void Dispose()
    {
        Client.Abort();
        Server.Abort();
        Client.Dispose();
        Server.Dispose();
    }
}

/// <summary>A stream reading one pipe and writing another.</summary>
internal sealed class DuplexStream(PipeReader input, PipeWriter output) : Stream
{
    private readonly Stream _input = input.AsStream();
    private readonly Stream _output = output.AsStream();

    /// <summary>Awaited after each write has reached the peer, before the write completes.</summary>
    public Func<CancellationToken, Task>? AfterWrite { get; set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _output.WriteAsync(buffer, cancellationToken);
        if (AfterWrite is { } afterWrite)
        {
            await afterWrite(cancellationToken);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Complete();
            output.Complete();
        }

        base.Dispose(disposing);
    }
}
