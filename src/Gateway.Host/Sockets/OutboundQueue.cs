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

/// <summary>How a send ended: its status and, for a send confirmed by a reply, the reply's body; for an invalid one, why.</summary>
internal readonly record struct SendOutcome(SendStatus Status, byte[]? Reply = null, string? Error = null);

/// <summary>One message of an <see cref="OutboundItem"/>: the accepted bytes (a copy), their kind, and the protocol headers.</summary>
internal readonly record struct OutboundPart(byte[] Payload, FrameKind Kind, IReadOnlyList<KeyValuePair<string, string>> Headers);

/// <summary>
/// A message (or a batch: several, written as one unit) in an <see cref="OutboundQueue"/>, with the
/// tasks its sender may wait on.
/// </summary>
internal sealed class OutboundItem(OutboundPart[] parts, bool isBatch, long enqueuedAt)
{
    private const int Pending = 0;
    private const int Writing = 1;
    private const int AwaitingReply = 2;
    private const int Done = 3;

    private readonly TaskCompletionSource<SendOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<SendStatus> _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;
    private object? _withdrawnWith; // a boxed SendStatus once WithdrawAfterWrite was asked

    /// <summary>The message, or a batch's messages in order.</summary>
    public OutboundPart[] Parts { get; } = parts;

    /// <summary>Written as one unit, inside the protocol's transaction (STOMP BEGIN ... COMMIT).</summary>
    public bool IsBatch { get; } = isBatch;

    /// <summary>The sender gave up (its token): a batch being written stops at the next message and is aborted.</summary>
    public bool CancelRequested => Volatile.Read(ref _cancelRequested);

    private bool _cancelRequested;

    /// <summary>When it was accepted (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long EnqueuedAt { get; } = enqueuedAt;

    /// <summary>A caller was told <see cref="SendStatus.Queued"/>: dropping it later must be logged.</summary>
    public bool ReportedQueued { get; set; }

    /// <summary>The end: written (raw), confirmed or refused by the server's reply, or not written and why.</summary>
    public Task<SendOutcome> Completion => _completion.Task;

    /// <summary>Written (<see cref="SendStatus.Sent"/>), or ended without being written (the reason).</summary>
    public Task<SendStatus> Written => _written.Task;

    public bool IsDone => Volatile.Read(ref _state) == Done;

    /// <summary>The send loop takes the message for writing; fails if it was withdrawn.</summary>
    public bool TryClaim() => Interlocked.CompareExchange(ref _state, Writing, Pending) == Pending;

    /// <summary>The write failed (connection lost): the message is pending again, still first in line,
    /// unless it was taken out of the queue meanwhile (<see cref="WithdrawAfterWrite"/>).</summary>
    public void Release()
    {
        // Not if a reply already ended it (TryCompleteReply): the server got it.
        if (Interlocked.CompareExchange(ref _state, Pending, Writing) != Writing)
        {
            return;
        }

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

    /// <summary>Written: done, unless the protocol confirms it by a reply (<paramref name="awaitReply"/>).</summary>
    public void CompleteWritten(bool awaitReply)
    {
        // A reply that came before the write returned (TryCompleteReply) has already ended it.
        Interlocked.CompareExchange(ref _state, awaitReply ? AwaitingReply : Done, Writing);
        _written.TrySetResult(SendStatus.Sent);
        if (!awaitReply)
        {
            _completion.TrySetResult(new SendOutcome(SendStatus.Sent));
        }
    }

    /// <summary>The reply came (or never will: <see cref="SendStatus.NoReply"/>, <see cref="SendStatus.Lost"/>).</summary>
    /// <remarks>
    /// The server may answer as soon as the bytes are on the wire, before the send loop saw its write
    /// return (<see cref="CompleteWritten"/>): a reply while Writing ends the message too.
    /// </remarks>
    public bool TryCompleteReply(SendStatus status, byte[]? reply)
    {
        var state = Volatile.Read(ref _state);
        while (state is Writing or AwaitingReply)
        {
            var seen = Interlocked.CompareExchange(ref _state, Done, state);
            if (seen == state)
            {
                _written.TrySetResult(SendStatus.Sent);
                _completion.TrySetResult(new SendOutcome(status, reply));
                return true;
            }

            state = seen;
        }

        return false;
    }

    /// <summary>Asks a batch being written to stop at the next message (<see cref="CancelRequested"/>).</summary>
    public void RequestCancel() => Volatile.Write(ref _cancelRequested, true);

    /// <summary>A batch stopped part-way and aborted (STOMP ABORT): ends it with <paramref name="status"/>.</summary>
    public void CompleteAborted(SendStatus status)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Writing) == Writing)
        {
            _written.TrySetResult(status);
            _completion.TrySetResult(new SendOutcome(status));
        }
    }

    /// <summary>Ends a message that was not written; fails if it is being or was written.</summary>
    public bool TryWithdraw(SendStatus status)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Pending) != Pending)
        {
            return false;
        }

        _written.TrySetResult(status);
        _completion.TrySetResult(new SendOutcome(status));
        return true;
    }
}
