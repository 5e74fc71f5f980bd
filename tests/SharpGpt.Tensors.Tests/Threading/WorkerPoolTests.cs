using SharpGpt.Tensors.Threading;
using Xunit;

namespace SharpGpt.Tensors.Tests.Threading;

public unsafe class WorkerPoolTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1000)]
    [InlineData(4, 7)]
    public void RunsEveryTaskExactlyOnce(int threads, int tasks)
    {
        using WorkerPool pool = new(threads);
        for (int round = 0; round < 200; round++)
        {
            int[] counts = new int[tasks];
            fixed (int* p = counts)
            {
                pool.Run(tasks, &Increment, p);
            }
            Assert.All(counts, c => Assert.Equal(1, c));
        }
    }

    [Fact]
    public void SurvivesSleepAndWakeCycles()
    {
        using WorkerPool pool = new(2);
        for (int round = 0; round < 5; round++)
        {
            // Long enough for the workers to give up spinning and sleep.
            Thread.Sleep(30);
            int[] counts = new int[64];
            fixed (int* p = counts)
            {
                pool.Run(64, &Increment, p);
            }
            Assert.All(counts, c => Assert.Equal(1, c));
        }
    }

    [Fact]
    public void ConcurrentCallersAllComplete()
    {
        using WorkerPool pool = new(2);
        Parallel.For(0, 8, _ =>
        {
            int[] counts = new int[100];
            for (int round = 0; round < 50; round++)
            {
                Array.Clear(counts);
                fixed (int* p = counts)
                {
                    pool.Run(100, &Increment, p);
                }
                Assert.All(counts, c => Assert.Equal(1, c));
            }
        });
    }

    [Fact]
    public void ExceptionFromCallerTaskIsRethrownAfterWorkersFinish()
    {
        using WorkerPool pool = new(1);
        Assert.Throws<InvalidOperationException>(() => pool.Run(3, &Throw, null));
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(2, 5)]
    [InlineData(0, 4)]
    public void PartitionCoversTheRangeWithoutGaps(int total, int parts)
    {
        int next = 0;
        for (int p = 0; p < parts; p++)
        {
            (int start, int end) = WorkerPool.Partition(total, parts, p);
            Assert.Equal(next, start);
            Assert.InRange(end - start, total / parts, total / parts + 1);
            next = end;
        }
        Assert.Equal(total, next);
    }

    private static void Increment(void* args, int index) => Interlocked.Increment(ref ((int*)args)[index]);

    private static void Throw(void* args, int index) => throw new InvalidOperationException("task failed");
}

public class PhysicalCoresTests
{
    [Fact]
    public void CountIsBetweenOneAndTheLogicalProcessorCount()
    {
        int cores = SharpGpt.Tensors.Threading.PhysicalCores.Count();
        Assert.InRange(cores, 1, Environment.ProcessorCount);
    }
}
