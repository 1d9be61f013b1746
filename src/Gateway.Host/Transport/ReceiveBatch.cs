namespace Gateway.Host.Transport;

/// <summary>A whole message of a <see cref="ReceiveBatch"/>: where it is in <see cref="ReceiveBatch.Array"/>.</summary>
internal readonly record struct BatchMessage(int Offset, int Length, FrameKind Kind);

/// <summary>
/// The whole messages one read brought in, as slices of one shared receive buffer: no copy, one hand-off for all.
/// The batch holds a reference to <see cref="Buffer"/> until <see cref="Clear"/>; whoever keeps a slice longer adds
/// one of its own. Reused from read to read by one receive loop.
/// </summary>
internal sealed class ReceiveBatch
{
    private BatchMessage[] _messages = new BatchMessage[8];

    public int Count { get; private set; }

    /// <summary>The buffer the messages are slices of (valid while <see cref="Buffer"/> is referenced).</summary>
    public byte[] Array { get; private set; } = [];

    /// <summary>The shared buffer; null while the batch is empty.</summary>
    public SharedBuffer? Buffer { get; private set; }

    public ref readonly BatchMessage this[int index] => ref _messages[index];

    public void Add(int offset, int length, FrameKind kind)
    {
        if (Count == _messages.Length)
        {
            System.Array.Resize(ref _messages, _messages.Length * 2);
        }

        _messages[Count++] = new BatchMessage(offset, length, kind);
    }

    /// <summary>Copies the messages from <paramref name="source"/> into <paramref name="target"/>, back to back, and points them there.</summary>
    public void MoveMessages(byte[] source, byte[] target)
    {
        var at = 0;
        for (var i = 0; i < Count; i++)
        {
            var message = _messages[i];
            source.AsSpan(message.Offset, message.Length).CopyTo(target.AsSpan(at));
            _messages[i] = message with { Offset = at };
            at += message.Length;
        }
    }

    /// <summary>Takes the batch's reference to <paramref name="buffer"/> (the caller added it).</summary>
    public void SetBuffer(SharedBuffer buffer)
    {
        Buffer = buffer;
        Array = buffer.Array;
    }

    /// <summary>Drops the batch's reference and forgets the messages.</summary>
    public void Clear()
    {
        Count = 0;
        Array = [];
        if (Buffer is { } buffer)
        {
            Buffer = null;
            buffer.Release();
        }
    }
}
