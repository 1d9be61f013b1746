using System.Net.WebSockets;
using Gateway.Host.Protocols;

namespace Gateway.Host.Tests.Protocols;

/// <summary>Records what a session does to its connection, in order.</summary>
internal sealed class RecordingProtocolConnection : IProtocolConnection
{
    public string SocketName => "test";

    /// <summary>Every call, in order: "control:Text:hello", "post:Text:ping", "ready:True", "fail:PolicyViolation".</summary>
    public List<string> Calls { get; } = [];

    public List<(byte[] Message, FrameKind Kind)> Controls { get; } = [];

    public List<(byte[] Message, FrameKind Kind)> Posts { get; } = [];

    public List<(WebSocketCloseStatus Status, string Reason)> Failures { get; } = [];

    public Gateway.Host.Transport.FrameBufferPool Pool { get; } = new(maxRetainedPerSize: 4);

    public List<Gateway.Host.Health.SubscriptionStatus> SubscriptionList { get; } = [];

    public IReadOnlyList<Gateway.Host.Health.SubscriptionStatus> Subscriptions => SubscriptionList;

    public List<(long ReplyKey, SendStatus Status, byte[] Reply)> Replies { get; } = [];

    public ValueTask SendControlAsync(ReadOnlyMemory<byte> message, FrameKind kind, CancellationToken cancellationToken)
    {
        Controls.Add((message.ToArray(), kind));
        Calls.Add($"control:{kind}:{Describe(message.Span, kind)}");
        return ValueTask.CompletedTask;
    }

    public void PostControl(ReadOnlyMemory<byte> message, FrameKind kind)
    {
        Posts.Add((message.ToArray(), kind));
        Calls.Add($"post:{kind}:{Describe(message.Span, kind)}");
    }

    public void SetReady(bool ready, string? detail = null) => Calls.Add($"ready:{ready}");

    public void CompleteReply(long replyKey, SendStatus status, ReadOnlySpan<byte> reply)
    {
        Replies.Add((replyKey, status, reply.ToArray()));
        Calls.Add($"reply:{replyKey}:{status}");
    }

    public void Fail(WebSocketCloseStatus status, string reason, DisconnectKind kind = DisconnectKind.ProtocolFailed)
    {
        Failures.Add((status, reason));
        Calls.Add($"fail:{status}");
    }

    private static string Describe(ReadOnlySpan<byte> message, FrameKind kind)
        => kind == FrameKind.Text ? System.Text.Encoding.UTF8.GetString(message) : Convert.ToBase64String(message);
}
