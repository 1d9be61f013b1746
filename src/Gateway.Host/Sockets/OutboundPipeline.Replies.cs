using System.Collections.Concurrent;

namespace Gateway.Host.Sockets;

/// <summary>Sends the protocol confirms by a reply: awaited until the reply, <c>ReplyTimeout</c>, or the end of the connection.</summary>
internal sealed partial class OutboundPipeline
{
    /// <summary>The server answered the send encoded with <paramref name="replyKey"/>.</summary>
    public void CompleteReply(long replyKey, SendStatus status, ReadOnlySpan<byte> reply)
    {
        if (Volatile.Read(ref _awaitingReply) is { } awaiting && awaiting.TryRemove(replyKey, out var pending))
        {
            pending.Item.TryCompleteReply(status, reply.ToArray());
        }
    }

    /// <summary>From the watchdog: sends whose reply is overdue end <see cref="SendStatus.NoReply"/>.</summary>
    public void OnTick(long now)
    {
        if (Volatile.Read(ref _awaitingReply) is not { IsEmpty: false } awaiting)
        {
            return;
        }

        foreach (var (key, pending) in awaiting)
        {
            if (_time.GetElapsedTime(pending.WrittenAt, now) >= _options.ReplyTimeout && awaiting.TryRemove(key, out _))
            {
                pending.Item.TryCompleteReply(SendStatus.NoReply, null);
            }
        }
    }

    private ConcurrentDictionary<long, AwaitedReply> AwaitingReply
    {
        get
        {
            var awaiting = Volatile.Read(ref _awaitingReply);
            return awaiting ?? Interlocked.CompareExchange(ref _awaitingReply, new(), null) ?? _awaitingReply;
        }
    }

    private sealed record AwaitedReply(OutboundItem Item, long WrittenAt);
}
