namespace Gateway.Host.Protocols;

/// <summary>Told each frame's outcome, once, from the dispatcher's single exit (STOMP: ACK or NACK).</summary>
internal interface IFrameCompletion
{
    /// <param name="token">The token the session gave the frame in <see cref="IProtocolSession.OnMessage"/>.</param>
    /// <param name="outcome">How the frame ended.</param>
    void Complete(long token, FrameOutcome outcome);
}
