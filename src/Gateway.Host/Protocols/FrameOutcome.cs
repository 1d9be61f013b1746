namespace Gateway.Host.Protocols;

/// <summary>How a delivered frame ended; every frame gets exactly one.</summary>
internal enum FrameOutcome
{
    /// <summary>Every handler returned without throwing.</summary>
    Handled,

    /// <summary>At least one handler threw (the others still ran).</summary>
    HandlerFailed,

    /// <summary>Discarded by the queue's policy (<c>DropOldest</c>, <c>DropNewest</c>) or refused by a closing queue.</summary>
    Dropped,

    /// <summary>Still queued, or not yet delivered, when the socket stopped.</summary>
    Lost,
}
