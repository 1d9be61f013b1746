using System.Collections.Concurrent;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Handlers;

/// <summary>
/// Stands in for the gateway's dispatcher when a test calls a sink directly: frames built with it can
/// be deferred, and every settlement is recorded by sequence (null: succeeded; else the failure).
/// </summary>
internal sealed class RecordingSettler : IFrameSettler
{
    private readonly ConcurrentDictionary<long, Exception?> _outcomes = new();
    private long _deferred;
    private long _repeated;

    public long Deferred => Interlocked.Read(ref _deferred);

    /// <summary>Settlement calls after the first for the same frame (they must be ignored, and should not happen).</summary>
    public long Repeated => Interlocked.Read(ref _repeated);

    public int Settled => _outcomes.Count;

    public int Succeeded => _outcomes.Values.Count(e => e is null);

    public IReadOnlyDictionary<long, Exception> Failures => _outcomes.Where(o => o.Value is not null).ToDictionary(o => o.Key, o => o.Value!);

    /// <summary>The settlement of the last deferred frame, to await one frame at a time.</summary>
    public Task? LastSettled { get; private set; }

    public FrameSettlement Defer(in Frame frame)
    {
        Interlocked.Increment(ref _deferred);
        var settlement = new Settlement(this, frame.Sequence);
        LastSettled = settlement.Done.Task;
        return settlement;
    }

    public Frame NewFrame(UpstreamConnection connection, long sequence, FrameKind kind, ReadOnlyMemory<byte> payload, FrameHeaders headers = default, DateTimeOffset? receivedAt = null)
        => new(connection, sequence, kind, payload, headers, receivedAt ?? DateTimeOffset.UtcNow, 0, this);

    public Task WaitForAsync(int settled, TimeSpan timeout)
        => Eventually.TrueAsync(() => Settled >= settled, $"{settled} frames are settled (now {Settled}: {Succeeded} succeeded)", timeout);

    private sealed class Settlement(RecordingSettler owner, long sequence) : FrameSettlement
    {
        private int _settled;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Succeed() => Settle(null);

        public override void Fail(Exception? exception = null) => Settle(exception ?? new InvalidOperationException("failed without an exception"));

        private void Settle(Exception? exception)
        {
            if (Interlocked.Exchange(ref _settled, 1) != 0)
            {
                Interlocked.Increment(ref owner._repeated);
                return;
            }

            owner._outcomes[sequence] = exception;
            Done.TrySetResult();
        }
    }
}
