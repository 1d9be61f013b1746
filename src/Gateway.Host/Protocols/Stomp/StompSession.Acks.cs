using Gateway.Host.Configuration;

namespace Gateway.Host.Protocols.Stomp;

internal sealed partial class StompSession
{
    private readonly AckTracker _acks;

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
        private readonly StompAck[] _modes;
        private readonly Queue<long>[] _inOrder;
        private long _next;

        public AckTracker(StompOptions stomp)
        {
            _modes = new StompAck[stomp.Subscriptions.Count];
            _inOrder = new Queue<long>[stomp.Subscriptions.Count];
            for (var i = 0; i < stomp.Subscriptions.Count; i++)
            {
                _modes[i] = stomp.Subscriptions[i].Ack;
                _inOrder[i] = new Queue<long>();
            }
        }

        public static string IdOf(StompSubscriptionOptions subscription, int index) => subscription.Id ?? $"sub-{index}";

        /// <summary>The completion token for a MESSAGE of subscription <paramref name="index"/>; 0 when nothing will be acknowledged (<c>auto</c>, an unknown subscription).</summary>
        public long Track(StompFrameView view, int index)
        {
            if (index < 0 || _modes[index] == StompAck.Auto)
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
                _pending[token] = new Pending(id, index);
                if (_modes[index] == StompAck.Client)
                {
                    _inOrder[index].Enqueue(token);
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

                if (_modes[pending.Subscription] == StompAck.ClientIndividual)
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

        private readonly record struct Pending(string Id, int Subscription, FrameOutcome Outcome = default, bool Done = false);
    }
}
