using Gateway.Host.Sockets;

namespace Gateway.Host.Tests.Sockets;

public sealed class OutboundQueueTests
{
    private static OutboundItem Item(bool reportedQueued = false) => new([new OutboundPart([1], FrameKind.Binary, [])], isBatch: false, 0) { ReportedQueued = reportedQueued };

    [Fact]
    public void TryEnqueue_BeyondCapacity_Fails()
    {
        var queue = new OutboundQueue(2);

        Assert.True(queue.TryEnqueue(Item()));
        Assert.True(queue.TryEnqueue(Item()));
        Assert.False(queue.TryEnqueue(Item()));
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public async Task WithdrawAll_PendingItems_CompletedWithStatusAndCounted()
    {
        var queue = new OutboundQueue(4);
        var queued = Item(reportedQueued: true);
        var waiting = Item();
        queue.TryEnqueue(queued);
        queue.TryEnqueue(waiting);

        var (withdrawn, reportedQueued) = queue.WithdrawAll(SendStatus.Stopped);

        Assert.Equal((2, 1), (withdrawn, reportedQueued));
        Assert.Equal(SendStatus.Stopped, (await queued.Completion).Status);
        Assert.Equal(SendStatus.Stopped, (await waiting.Completion).Status);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task WithdrawAll_ItemBeingWrittenThenWriteFails_EndsWithStatusInsteadOfWaitingForever()
    {
        var queue = new OutboundQueue(4);
        var item = Item(reportedQueued: true);
        queue.TryEnqueue(item);
        Assert.True(item.TryClaim());

        var (withdrawn, _) = queue.WithdrawAll(SendStatus.NotConnected);
        Assert.False(item.Completion.IsCompleted);
        item.Release();

        Assert.Equal(1, withdrawn);
        Assert.Equal(SendStatus.NotConnected, (await item.Completion).Status);
    }

    [Fact]
    public async Task WithdrawAll_ItemBeingWrittenThenWriteSucceeds_ReportsSent()
    {
        var queue = new OutboundQueue(4);
        var item = Item();
        queue.TryEnqueue(item);
        Assert.True(item.TryClaim());

        queue.WithdrawAll(SendStatus.Stopped);
        item.CompleteWritten(awaitReply: false);

        Assert.Equal(SendStatus.Sent, (await item.Completion).Status);
    }

    [Fact]
    public async Task Release_WithoutWithdrawal_PendingAgainAndClaimableOnce()
    {
        var item = Item();
        Assert.True(item.TryClaim());
        Assert.False(item.TryWithdraw(SendStatus.Stopped));

        item.Release();

        Assert.False(item.Completion.IsCompleted);
        Assert.True(item.TryClaim());
        item.CompleteWritten(awaitReply: false);
        Assert.Equal(SendStatus.Sent, (await item.Completion).Status);
        Assert.False(item.TryClaim());
    }

    [Fact]
    public async Task CompleteWritten_AwaitingReply_WrittenNowCompletionWithTheReply()
    {
        var item = Item();
        Assert.True(item.TryClaim());

        item.CompleteWritten(awaitReply: true);

        Assert.Equal(SendStatus.Sent, await item.Written);
        Assert.False(item.Completion.IsCompleted);
        Assert.False(item.TryWithdraw(SendStatus.Stopped));
        Assert.True(item.TryCompleteReply(SendStatus.Confirmed, [1, 2]));
        Assert.False(item.TryCompleteReply(SendStatus.NoReply, null));
        var outcome = await item.Completion;
        Assert.Equal(SendStatus.Confirmed, outcome.Status);
        Assert.Equal([1, 2], outcome.Reply);
    }

    [Fact]
    public async Task TryCompleteReply_NotWrittenYet_RefusedAndWithdrawStillWorks()
    {
        var item = Item();

        Assert.False(item.TryCompleteReply(SendStatus.Lost, null));
        Assert.True(item.TryWithdraw(SendStatus.Stopped));

        Assert.Equal(SendStatus.Stopped, await item.Written);
        Assert.Equal(SendStatus.Stopped, (await item.Completion).Status);
    }

    [Fact]
    public async Task TryCompleteReply_WhileWriting_ConfirmedAndTheLaterCompleteWrittenKeepsIt()
    {
        var item = Item();
        Assert.True(item.TryClaim());

        Assert.True(item.TryCompleteReply(SendStatus.Confirmed, [7]));
        item.CompleteWritten(awaitReply: true);

        Assert.True(item.IsDone);
        Assert.False(item.TryCompleteReply(SendStatus.Lost, null));
        Assert.Equal(SendStatus.Sent, await item.Written);
        var outcome = await item.Completion;
        Assert.Equal(SendStatus.Confirmed, outcome.Status);
        Assert.Equal([7], outcome.Reply);
    }

    [Fact]
    public async Task TryCompleteReply_WhileWritingThenWriteFails_StaysDoneAndIsNotClaimedAgain()
    {
        var item = Item();
        Assert.True(item.TryClaim());
        Assert.True(item.TryCompleteReply(SendStatus.Confirmed, null));

        item.Release();

        Assert.True(item.IsDone);
        Assert.False(item.TryClaim());
        Assert.Equal(SendStatus.Confirmed, (await item.Completion).Status);
    }
}
