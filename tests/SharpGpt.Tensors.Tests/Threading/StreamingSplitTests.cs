using SharpGpt.Tensors.Threading;
using Xunit;

namespace SharpGpt.Tensors.Tests.Threading;

public class StreamingSplitTests
{
    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(7, 2)]
    [InlineData(192, 2)]
    [InlineData(577, 3)]
    [InlineData(12565, 2)]
    [InlineData(12565, 16)]
    [InlineData(100, 1)]
    public void TheRangesTileEveryUnitOnceInOrderWithLongFirstRanges(int units, int threads)
    {
        var split = new StreamingSplit(units, threads);
        int next = 0;
        for (int task = 0; task < split.Tasks; task++)
        {
            (int start, int end) = split.Range(task);
            Assert.Equal(next, start);
            Assert.True(end > start, $"task {task} is empty");
            next = end;
        }
        Assert.Equal(units, next);
        if (threads == 1)
        {
            Assert.Equal(Math.Min(units, 1), split.Tasks);
        }
        else if (units >= 64 * threads)
        {
            // Each thread starts on one long range (together 7/8 of the work), and the ranges after them shrink.
            Assert.All(Enumerable.Range(0, threads), t => Assert.True(split.Range(t).End - split.Range(t).Start >= units * 7 / 8 / threads));
            int[] sizes = Enumerable.Range(threads, split.Tasks - threads).Select(t => split.Range(t).End - split.Range(t).Start).ToArray();
            Assert.Equal(sizes.OrderDescending(), sizes);
            Assert.True(sizes[^1] <= Math.Max(1, units / 64));
            Assert.True(split.Tasks <= 8 * threads + 8, $"{split.Tasks} tasks");
        }
    }
}
