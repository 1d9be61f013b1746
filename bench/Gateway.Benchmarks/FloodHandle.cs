namespace Gateway.Benchmarks;

/// <summary>A flood session of an <see cref="IFloodServer"/>: its id, the URL to connect to, and the frames each connection sends per phase.</summary>
internal sealed record FloodHandle(int Id, Uri Url, IReadOnlyList<long> FramesPerConnection);
