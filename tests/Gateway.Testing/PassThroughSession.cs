using System.Buffers;
using Gateway.Host.Protocols;

namespace Gateway.Testing;

/// <summary>A protocol session that delivers every message whole and does nothing else; tests override what they script.</summary>
internal class PassThroughSession : IProtocolSession
{
    public virtual ValueTask StartAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public virtual ReceiveDecision OnMessage(ReadOnlySpan<byte> message, FrameKind kind, out InboundFrame frame)
    {
        frame = new InboundFrame(0, message.Length);
        return ReceiveDecision.Deliver;
    }

    public virtual bool TryNextFrame(ReadOnlySpan<byte> message, out InboundFrame frame)
    {
        frame = default;
        return false;
    }

    public virtual ReadOnlyMemory<byte> Encode(in Host.Sockets.OutboundPart part, ArrayBufferWriter<byte> scratch, out FrameKind wireKind, out long replyKey)
    {
        wireKind = part.Kind;
        replyKey = 0;
        return part.Payload;
    }

    public virtual void OnTick(long timestamp)
    {
    }

    public virtual void StopDelivering()
    {
    }

    public virtual ValueTask GoodbyeAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public virtual void Complete(long token, FrameOutcome outcome)
    {
    }
}
