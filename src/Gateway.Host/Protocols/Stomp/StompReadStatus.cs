namespace Gateway.Host.Protocols.Stomp;

/// <summary>What <see cref="StompChunkReader.Next"/> found.</summary>
internal enum StompReadStatus
{
    /// <summary>Every byte of the chunk is used: heart-beats, complete frames, or a partial frame the parser keeps.</summary>
    NeedMoreData,

    /// <summary>A complete frame: see the <see cref="StompFrameView"/>.</summary>
    Frame,

    /// <summary>The stream is malformed (<see cref="StompParser.Error"/> says how); the parser stays failed, the connection should close with 1002.</summary>
    Error,
}
