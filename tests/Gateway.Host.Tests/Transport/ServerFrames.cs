using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.WebSockets;

namespace Gateway.Host.Tests.Transport;

/// <summary>One frame as a (possibly misbehaving) server writes it.</summary>
/// <param name="First">FIN, RSV1-3 and opcode.</param>
/// <param name="Masked">Set the mask bit and mask the payload (servers must not).</param>
/// <param name="TopBitLength">Announce a 64-bit length with the top bit set (and no payload).</param>
/// <param name="LengthForm">0: the minimal length encoding (RFC 6455 5.2); 16 or 64: that form even where a shorter one fits.</param>
internal sealed record ServerFrame(byte First, byte[] Payload, bool Masked = false, bool TopBitLength = false, int LengthForm = 0)
{
    public static ServerFrame Text(string text, bool fin = true) => new((byte)((fin ? 0x80 : 0) | 0x1), System.Text.Encoding.UTF8.GetBytes(text));

    public static ServerFrame Close(int code, byte[]? reason = null)
    {
        var payload = new byte[2 + (reason?.Length ?? 0)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        reason?.CopyTo(payload, 2);
        return new ServerFrame(0x88, payload);
    }

    public void WriteTo(Stream output)
    {
        output.WriteByte(First);
        var maskBit = Masked ? 0x80 : 0;
        if (TopBitLength)
        {
            output.WriteByte((byte)(maskBit | 127));
            output.Write([0x80, 0, 0, 0, 0, 0, 0, 5]);
            return;
        }

        if (Payload.Length <= 125 && LengthForm == 0)
        {
            output.WriteByte((byte)(maskBit | Payload.Length));
        }
        else if (Payload.Length <= ushort.MaxValue && LengthForm != 64)
        {
            output.WriteByte((byte)(maskBit | 126));
            output.WriteByte((byte)(Payload.Length >> 8));
            output.WriteByte((byte)Payload.Length);
        }
        else
        {
            output.WriteByte((byte)(maskBit | 127));
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)Payload.Length);
            output.Write(length);
        }

        if (Masked)
        {
            byte[] key = [0x12, 0x34, 0x56, 0x78];
            output.Write(key);
            output.Write(Payload.Select((b, i) => (byte)(b ^ key[i & 3])).ToArray());
        }
        else
        {
            output.Write(Payload);
        }
    }

    public static byte[] Encode(IEnumerable<ServerFrame> frames)
    {
        using var output = new MemoryStream();
        foreach (var frame in frames)
        {
            frame.WriteTo(output);
        }

        return output.ToArray();
    }
}

/// <summary>A frame the client wrote, unmasked.</summary>
internal sealed record ClientFrame(byte First, byte[] Payload)
{
    public int Opcode => First & 0x0F;

    /// <summary>The close code of a close frame (1005 when it has no payload).</summary>
    public int CloseCode => Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 1005;

    public override string ToString() => $"{First:X2}:{Convert.ToHexString(Payload)}";

    /// <summary>Parses what a client wrote; every frame must be masked.</summary>
    public static List<ClientFrame> Parse(ReadOnlySpan<byte> bytes)
    {
        var frames = new List<ClientFrame>();
        while (!bytes.IsEmpty)
        {
            var first = bytes[0];
            Assert.True((bytes[1] & 0x80) != 0, "a client frame must be masked");
            long length = bytes[1] & 0x7F;
            var position = 2;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
                position = 4;
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]);
                position = 10;
            }

            var key = bytes.Slice(position, 4).ToArray();
            var payload = bytes.Slice(position + 4, (int)length).ToArray();
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] ^= key[i & 3];
            }

            frames.Add(new ClientFrame(first, payload));
            bytes = bytes[(position + 4 + (int)length)..];
        }

        return frames;
    }
}

/// <summary>
/// Hands out a fixed server byte stream in the given chunk sizes (cycled; a zero-byte read returns at once) and
/// records what the client writes. Every call completes synchronously.
/// </summary>
internal sealed class ScriptedStream(byte[] input, int[] chunks) : Stream
{
    private readonly MemoryStream _written = new();
    private int _position;
    private int _reads;

    public ScriptedStream(byte[] input)
        : this(input, [int.MaxValue])
    {
    }

    public bool Disposed { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public long WrittenLength => _written.Length;

    public byte[] Written => _written.ToArray();

    public List<ClientFrame> WrittenFrames => ClientFrame.Parse(Written);

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var count = Math.Min(Math.Min(buffer.Length, chunks[_reads++ % chunks.Length]), input.Length - _position);
        input.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Write(ReadOnlySpan<byte> buffer) => _written.Write(buffer);

    public override void Write(byte[] buffer, int offset, int count) => _written.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _written.Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        _written.Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }
}

/// <summary>
/// A stream over two pipes whose disposal wakes a pending read (as a socket's does), so an aborted socket's
/// receive fails instead of hanging; a zero-byte read waits for data without consuming it.
/// </summary>
internal sealed class PipeStream(PipeReader input, PipeWriter output) : Stream
{
    private volatile bool _disposed;

    public int ZeroByteReads { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>A client end (this) and a server-side platform socket over in-memory pipes.</summary>
    public static (PipeStream Client, WebSocket Server) CreatePair()
    {
        var options = new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        var server = WebSocket.CreateFromStream(new DuplexStream(toServer.Reader, toClient.Writer), new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        return (new PipeStream(toClient.Reader, toServer.Writer), server);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty)
        {
            ZeroByteReads++;
        }

        var result = await input.ReadAsync(cancellationToken);
        ObjectDisposedException.ThrowIf(result.IsCanceled || _disposed, this);

        var available = result.Buffer;
        var count = (int)Math.Min(buffer.Length, available.Length);
        available.Slice(0, count).CopyTo(buffer.Span);
        input.AdvanceTo(available.GetPosition(count));
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await output.WriteAsync(buffer, cancellationToken);
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
        if (disposing && !_disposed)
        {
            _disposed = true;
            input.CancelPendingRead();
            output.Complete();
        }

        base.Dispose(disposing);
    }
}
