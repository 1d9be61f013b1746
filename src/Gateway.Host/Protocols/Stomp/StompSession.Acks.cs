using Gateway.Host.Configuration;

namespace Gateway.Host.Protocols.Stomp;

internal sealed partial class StompSession
{
    private readonly AckTracker _acks = new();

    /// <summary>
    /// Which MESSAGE frames still wait for their outcome, and what to send once it is known:
    /// <c>client-individual</c> ACKs or NACKs each; <c>client</c> (cumulative) ACKs only up to the
    /// newest message whose predecessors are all handled, and NACKs a failed one on its own; a lost
    /// frame is never acknowledged (the broker redelivers it once the connection is gone).
    /// </summary>
    private sealed class AckTracker
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<long, Pending> _pending = [];
        private readonly Dictionary<string, Queue<long>> _inOrder = new(StringComparer.Ordinal);
        private long _next;

        /// <summary>The completion token for a MESSAGE of a subscription acknowledged <paramref name="mode"/>; 0 when nothing will be acknowledged (<c>auto</c>).</summary>
        public long Track(StompFrameView view, StompAck mode, string subscription)
        {
            if (mode == StompAck.Auto)
            {
                return 0;
            }

            // STOMP 1.2 acknowledges by the MESSAGE's "ack" header; older servers by message-id.
            var id = view.TryGetHeader("ack", out var ack) ? ack : view.TryGetHeader("message-id", out var messageId) ? messageId : null;
            if (id is null)
            {
                return 0;
            }

            lock (_lock)
            {
                var token = ++_next;
                _pending[token] = new Pending(id, subscription, mode);
                if (mode == StompAck.Client)
                {
                    if (!_inOrder.TryGetValue(subscription, out var queue))
                    {
                        _inOrder[subscription] = queue = new Queue<long>();
                    }

                    queue.Enqueue(token);
                }

                return token;
            }
        }

        /// <summary>What to send now that <paramref name="token"/>'s frame ended.</summary>
        public List<(StompCommand Command, string Id)> Complete(long token, FrameOutcome outcome)
        {
            var send = new List<(StompCommand, string)>(1);
            lock (_lock)
            {
                if (!_pending.TryGetValue(token, out var pending))
                {
                    return send;
                }

                if (pending.Mode == StompAck.ClientIndividual)
                {
                    _pending.Remove(token);
                    if (outcome != FrameOutcome.Lost)
                    {
                        send.Add((outcome == FrameOutcome.Handled ? StompCommand.Ack : StompCommand.Nack, pending.Id));
                    }

                    return send;
                }

                _pending[token] = pending with { Outcome = outcome, Done = true };
                var queue = _inOrder[pending.Subscription];
                string? handledUpTo = null;
                while (queue.TryPeek(out var head) && _pending[head] is { Done: true } done && done.Outcome != FrameOutcome.Lost)
                {
                    queue.Dequeue();
                    _pending.Remove(head);
                    if (done.Outcome == FrameOutcome.Handled)
                    {
                        handledUpTo = done.Id;
                        continue;
                    }

                    // Cumulative: ACK what was handled before it, then NACK just this one.
                    if (handledUpTo is not null)
                    {
                        send.Add((StompCommand.Ack, handledUpTo));
                        handledUpTo = null;
                    }

                    send.Add((StompCommand.Nack, done.Id));
                }

                if (handledUpTo is not null)
                {
                    send.Add((StompCommand.Ack, handledUpTo));
                }
            }

            return send;
        }

        private readonly record struct Pending(string Id, string Subscription, StompAck Mode, FrameOutcome Outcome = default, bool Done = false);
    }
}
