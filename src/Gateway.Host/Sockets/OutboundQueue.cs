using System.Threading.Channels;

namespace Gateway.Host.Sockets;

/// <summary>
/// One socket's bounded queue of accepted, not yet written messages, drained in order by the
/// connection's single send loop. It outlives connections: under <c>Buffer</c>, what is queued
/// while disconnected is written after the next connect.
/// </summary>
internal sealed class OutboundQueue(int capacity)
{
    private readonly Channel<OutboundItem> _channel = Channel.CreateBounded<OutboundItem>(new BoundedChannelOptions(capacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the caller gets QueueFull.
    });

    public ChannelReader<OutboundItem> Reader => _channel.Reader;

    public int Count => _channel.Reader.Count;

    public bool TryEnqueue(OutboundItem item) => _channel.Writer.TryWrite(item);

    /// <summary>Completes every pending message with <paramref name="status"/>.</summary>
    /// <returns>How many were withdrawn, and how many of those a caller was told were queued.</returns>
    public (int Withdrawn, int ReportedQueued) WithdrawAll(SendStatus status)
    {
        int withdrawn = 0, reportedQueued = 0;
        while (_channel.Reader.TryRead(out var item))
        {
            // A message being written right now is no longer in the queue either: if its write fails,
            // it must end with this status rather than wait for a queue it is not in.
            if (item.TryWithdraw(status) || item.WithdrawAfterWrite(status))
            {
                withdrawn++;
                reportedQueued += item.ReportedQueued ? 1 : 0;
            }
        }

        return (withdrawn, reportedQueued);
    }
}

/// <summary>A message in an <see cref="OutboundQueue"/>, with the task its sender may wait on.</summary>
internal sealed class OutboundItem(byte[] payload, FrameKind kind, long enqueuedAt)
{
    private const int Pending = 0;
    private const int Writing = 1;
    private const int Done = 2;

    private readonly TaskCompletionSource<SendStatus> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;
    private object? _withdrawnWith; // a boxed SendStatus once WithdrawAfterWrite was asked

    public byte[] Payload { get; } = payload;

    public FrameKind Kind { get; } = kind;

    /// <summary>When it was accepted (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long EnqueuedAt { get; } = enqueuedAt;

    /// <summary>A caller was told <see cref="SendStatus.Queued"/>: dropping it later must be logged.</summary>
    public bool ReportedQueued { get; set; }

    public Task<SendStatus> Completion => _completion.Task;

    public bool IsDone => Volatile.Read(ref _state) == Done;

    /// <summary>The send loop takes the message for writing; fails if it was withdrawn.</summary>
    public bool TryClaim() => Interlocked.CompareExchange(ref _state, Writing, Pending) == Pending;

    /// <summary>The write failed (connection lost): the message is pending again, still first in line,
    /// unless it was taken out of the queue meanwhile (<see cref="WithdrawAfterWrite"/>).</summary>
    public void Release()
    {
        Interlocked.Exchange(ref _state, Pending);
        if (Volatile.Read(ref _withdrawnWith) is SendStatus status)
        {
            TryWithdraw(status);
        }
    }

    /// <summary>
    /// For a message being written while its queue is emptied: if the write fails, end it with
    /// <paramref name="status"/>. Returns true if it was (or will be) ended that way rather than written.
    /// </summary>
    public bool WithdrawAfterWrite(SendStatus status)
    {
        Interlocked.Exchange(ref _withdrawnWith, status);

        // Released between the caller's TryWithdraw and the line above: withdraw it now.
        return TryWithdraw(status) || Volatile.Read(ref _state) == Writing;
    }

    public void CompleteWritten()
    {
        Volatile.Write(ref _state, Done);
        _completion.TrySetResult(SendStatus.Sent);
    }

    /// <summary>Ends a message that was not written; fails if it is being or was written.</summary>
    public bool TryWithdraw(SendStatus status)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Pending) != Pending)
        {
            return false;
        }

        _completion.TrySetResult(status);
        return true;
    }
}
