namespace Gateway;

/// <summary>Whether a frame's payload is UTF-8 text or binary.</summary>
public enum FrameKind
{
    /// <summary>A UTF-8 text message.</summary>
    Text,

    /// <summary>A binary message.</summary>
    Binary,
}
