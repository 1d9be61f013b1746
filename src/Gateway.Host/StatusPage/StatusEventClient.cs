using System.Threading.Channels;

namespace Gateway.Host.StatusPage;

/// <summary>
/// One <c>/events</c> connection: a bounded queue of encoded events. The stream only ever calls
/// <see cref="TryWrite"/>; when the queue is full the client is too slow and is dropped (<see cref="Dropped"/>).
/// </summary>
internal sealed class StatusEventClient : IDisposable
{
    private readonly Channel<byte[]> _events;
    private readonly CancellationTokenSource _dropped = new();
    private readonly Action<StatusEventClient> _leave;
    private int _closed;

    public StatusEventClient(int capacity, Action<StatusEventClient> leave)
    {
        _events = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _leave = leave;
        Dropped = _dropped.Token;
    }

    /// <summary>The encoded events, in order (each a complete <c>text/event-stream</c> message).</summary>
    public ChannelReader<byte[]> Events => _events.Reader;

    /// <summary>Cancelled when the stream dropped this client for not keeping up.</summary>
    public CancellationToken Dropped { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    internal bool TryWrite(byte[] message) => !IsClosed && _events.Writer.TryWrite(message);

    /// <summary>Ends the client: no more events; <paramref name="slow"/> also cancels <see cref="Dropped"/>.</summary>
    internal void Close(bool slow)
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _events.Writer.TryComplete();
            if (slow)
            {
                _dropped.Cancel();
            }
        }
    }

    /// <summary>The connection ended: the stream forgets the client.</summary>
    public void Dispose()
    {
        Close(slow: false);
        _leave(this);

        // _dropped is not disposed: the stream may still cancel it from the pump, and it holds no timer.
    }
}
