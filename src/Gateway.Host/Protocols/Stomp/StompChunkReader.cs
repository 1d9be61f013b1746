namespace Gateway.Host.Protocols.Stomp;

/// <summary>
/// Walks one received chunk (a WebSocket message) for <see cref="StompParser"/>: call
/// <see cref="Next"/> until it returns <see cref="StompReadStatus.NeedMoreData"/> or
/// <see cref="StompReadStatus.Error"/>. A ref struct so the frames can point into the chunk.
/// </summary>
internal ref struct StompChunkReader
{
    private readonly StompParser _parser;
    private readonly ReadOnlySpan<byte> _chunk;
    private int _position;
    private int _heartBeats;

    internal StompChunkReader(StompParser parser, ReadOnlySpan<byte> chunk)
    {
        _parser = parser;
        _chunk = chunk;
    }

    /// <summary>Heart-beats (EOLs between frames) passed so far in this chunk.</summary>
    public readonly int HeartBeats => _heartBeats;

    /// <summary>Bytes of the chunk used so far.</summary>
    public readonly int Consumed => _position;

    /// <summary>Why the stream is malformed, once <see cref="Next"/> returned <see cref="StompReadStatus.Error"/>.</summary>
    public readonly string? Error => _parser.Error;

    /// <summary>
    /// The next complete frame. The view is valid until the next call to <see cref="Next"/>, to
    /// <see cref="StompParser.Read"/> or to <see cref="StompParser.Dispose"/>, and while the chunk is.
    /// </summary>
    public StompReadStatus Next(out StompFrameView frame) => _parser.Next(_chunk, ref _position, ref _heartBeats, out frame);
}
