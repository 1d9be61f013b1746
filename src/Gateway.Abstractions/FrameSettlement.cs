namespace Gateway;

/// <summary>
/// A frame's settlement, taken over by a handler with <see cref="Frame.Defer"/>: the handler returns
/// as soon as the frame is safely handed on (its payload copied), and calls <see cref="Succeed"/> or
/// <see cref="Fail"/> once the sink confirmed or refused it. Only then does the frame count as
/// handled, and only then is it acknowledged upstream (STOMP ACK, or NACK after a failure).
/// </summary>
/// <remarks>
/// The first call wins; later calls are ignored, so a sink may settle from any thread without
/// coordination. A deferral settled by neither within the socket's <c>SettleTimeout</c> fails.
/// </remarks>
public abstract class FrameSettlement
{
    /// <summary>The frame reached its destination: it succeeded (for this handler).</summary>
    public abstract void Succeed();

    /// <summary>The frame could not be delivered: it failed, as if the handler had thrown <paramref name="exception"/>.</summary>
    /// <param name="exception">Why; logged and counted as the handler's error.</param>
    public abstract void Fail(Exception? exception = null);
}

/// <summary>What lets a frame's handler take over its settlement (<see cref="Frame.Defer"/>); implemented by the gateway, or by a test.</summary>
public interface IFrameSettler
{
    /// <summary>Takes over the settlement of the frame being handled.</summary>
    /// <param name="frame">The frame.</param>
    /// <returns>The settlement, to be called once.</returns>
    FrameSettlement Defer(in Frame frame);
}
