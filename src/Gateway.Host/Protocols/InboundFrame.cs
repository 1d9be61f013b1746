namespace Gateway.Host.Protocols;

/// <summary>What a session makes of one received message.</summary>
internal enum ReceiveDecision
{
    /// <summary>Hand <see cref="InboundFrame"/> to the handlers.</summary>
    Deliver,

    /// <summary>Control traffic the session answered itself (heart-beat, receipt, reply): handlers never see it.</summary>
    Consumed,

    /// <summary>A protocol error: the session already called <see cref="IProtocolConnection.Fail"/>.</summary>
    Close,
}

/// <summary>The frame a session delivers: a slice of the message, and a completion token when it wants the outcome.</summary>
/// <param name="Offset">Start of the payload within the message.</param>
/// <param name="Length">Payload length.</param>
/// <param name="CompletionToken">Non-zero: <see cref="IFrameCompletion.Complete"/> is called with it once the frame ended.</param>
/// <param name="HeadersOffset">Start of the frame's header block within the message (<see cref="FrameHeaders"/>'s format).</param>
/// <param name="HeadersLength">Its length; 0: no headers.</param>
/// <param name="Buffer">
/// Set when the frame is not in the message but in a buffer the session assembled it in (a frame
/// split over several messages), rented from <see cref="IProtocolConnection.Pool"/>: the offsets
/// are into it, and it goes back to the pool once the frame ended.
/// </param>
internal readonly record struct InboundFrame(int Offset, int Length, long CompletionToken = 0, int HeadersOffset = 0, int HeadersLength = 0, byte[]? Buffer = null);
