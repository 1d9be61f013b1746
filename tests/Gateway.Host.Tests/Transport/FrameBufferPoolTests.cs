using Gateway.Host.Transport;

namespace Gateway.Host.Tests.Transport;

public sealed class FrameBufferPoolTests
{
    [Theory]
    [InlineData(0, 256)]
    [InlineData(1, 256)]
    [InlineData(256, 256)]
    [InlineData(257, 512)]
    [InlineData(4096, 4096)]
    [InlineData(4097, 8192)]
    [InlineData(4 * 1024 * 1024, 4 * 1024 * 1024)]
    public void Rent_AnySize_PowerOfTwoAtLeast256(int requested, int expected)
        => Assert.Equal(expected, new FrameBufferPool(4).Rent(requested).Length);

    [Fact]
    public void Rent_LargerThanPooledMaximum_ExactSizeAndNotKept()
    {
        var pool = new FrameBufferPool(4);
        var big = pool.Rent(5_000_000);

        pool.Return(big);

        Assert.Equal(5_000_000, big.Length);
        Assert.Equal(0, pool.Retained);
    }

    [Fact]
    public void Return_ThenRent_SameSizeClass_ReusesTheBuffer()
    {
        var pool = new FrameBufferPool(4);
        var first = pool.Rent(1000);

        pool.Return(first);

        Assert.Same(first, pool.Rent(700));
        Assert.NotSame(first, pool.Rent(700));
    }

    [Fact]
    public void Return_MoreThanRetainLimit_KeepsOnlyTheLimit()
    {
        var pool = new FrameBufferPool(2);
        var buffers = Enumerable.Range(0, 5).Select(_ => pool.Rent(300)).ToList();

        buffers.ForEach(b => pool.Return(b));

        Assert.Equal(2, pool.Retained);
    }

    [Fact]
    public void Return_ForeignArray_Ignored()
    {
        var pool = new FrameBufferPool(4);

        pool.Return(new byte[1000]);
        pool.Return(new byte[100]);

        Assert.Equal(0, pool.Retained);
    }

    [Fact]
    public void Trim_AfterReturns_ReleasesEverything()
    {
        var pool = new FrameBufferPool(4);
        var small = pool.Rent(10);
        var large = pool.Rent(70_000);
        pool.Return(small);
        pool.Return(large);

        pool.Trim();

        Assert.Equal(0, pool.Retained);
        Assert.NotSame(small, pool.Rent(10));
    }
}
