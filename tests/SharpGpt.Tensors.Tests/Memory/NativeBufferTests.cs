using SharpGpt.Tensors.Memory;
using Xunit;

namespace SharpGpt.Tensors.Tests.Memory;

public unsafe class NativeBufferTests
{
    /// <summary>Below and above the 2 MiB at which blocks come from mmap on huge pages, with odd lengths.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(1_000)]
    [InlineData((2 << 20) / sizeof(float) + 3)]
    [InlineData(5_000_001)]
    public void EveryBufferIsZeroedAlignedAndReusableAfterItsMemoryIsFreed(long length)
    {
        for (int round = 0; round < 3; round++)
        {
            using var buffer = new NativeBuffer(length);
            Assert.Equal(0, (long)buffer.Pointer % NativeBuffer.Alignment);
            Assert.Equal(-1, buffer.Span.IndexOfAnyExcept(0f));
            // Dirty every float, so a block handed out again without zeroing would show it.
            buffer.Span.Fill(round + 1);
            Assert.Equal(round + 1, buffer.Span[^1]);
        }
    }

    [Fact]
    public void AReleasedRangeReadsAsZerosAndTheRestKeepsItsValues()
    {
        const int pageFloats = 4096 / sizeof(float);
        using var buffer = new NativeBuffer(4 << 20);
        buffer.Span.Fill(7f);
        long released = buffer.ReleaseRange(3 * pageFloats + 5, 40 * pageFloats);
        Assert.Equal(7f, buffer.Span[3 * pageFloats + 4]);
        Assert.Equal(7f, buffer.Span[43 * pageFloats + 5]);
        if (OperatingSystem.IsLinux())
        {
            // Only the whole pages inside the range go back: pages 4 … 42.
            Assert.Equal(39L * 4096, released);
            Assert.Equal(0f, buffer.Span[4 * pageFloats]);
            Assert.Equal(0f, buffer.Span[43 * pageFloats - 1]);
            Assert.Equal(7f, buffer.Span[4 * pageFloats - 1]);
        }
        buffer.Span[10 * pageFloats] = 3f;
        Assert.Equal(3f, buffer.Span[10 * pageFloats]);
    }
}
