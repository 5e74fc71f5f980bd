using System.Runtime.InteropServices;
using SharpGpt.Tensors.Threading;
using Xunit;

namespace SharpGpt.Tensors.Tests.Threading;

public unsafe class StreamingSplitTests
{
    /// <summary>Bytes per unit that make a chunk 64 units long.</summary>
    private const int SixtyFourUnitChunks = StreamingSplit.ChunkBytes / 64;

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
    public void RunOneAfterAnotherTheTasksClaimEveryUnitOnceAndTheFirstStreamsItsOwnRangeInChunks(int units, int threads)
    {
        byte* board = stackalloc byte[StreamingSplit.BoardBytes(threads)];
        var split = new StreamingSplit(units, SixtyFourUnitChunks, board, threads);
        Assert.Equal(units == 0 ? 0 : threads, split.Tasks);
        var claims = new List<(int Task, int Start, int End)>();
        // The pool's serial fallback: task 0 runs to the end (stealing what the others have not claimed), then 1, …
        for (int task = 0; task < split.Tasks; task++)
        {
            while (split.TryClaim(task, out int start, out int end))
            {
                Assert.True(start >= 0 && end > start && end <= units, $"claim [{start}, {end}) of {units}");
                claims.Add((task, start, end));
            }
        }
        AssertEveryUnitOnce(units, claims.Select(c => (c.Start, c.End)));
        Assert.All(claims, c => Assert.Equal(0, c.Task));
        // Task 0's own range comes first, front to back, one chunk at a time.
        (int ownStart, int ownEnd) = WorkerPool.Partition(units, threads, 0);
        int expectedStart = ownStart;
        foreach ((_, int start, int end) in claims.TakeWhile(c => c.Start < ownEnd))
        {
            Assert.Equal(expectedStart, start);
            Assert.Equal(Math.Min(64, ownEnd - start), end - start);
            expectedStart = end;
        }
        Assert.Equal(ownEnd, expectedStart);
    }

    [Theory]
    [InlineData(10_007, 2, StreamingSplit.ChunkBytes / 4)] // chunks of 4 units: thousands of claims and steals
    [InlineData(10_007, 3, StreamingSplit.ChunkBytes)]
    [InlineData(12_565, 4, 49_152)] // a GPT-2 LM-head block of 4 rows: one unit per chunk
    [InlineData(97, 8, StreamingSplit.ChunkBytes / 2)]
    [InlineData(5, 2, 1)] // one chunk is the whole job
    public void ThreadsRacingForUnitsClaimEachExactlyOnce(int units, int threads, int unitBytes)
    {
        for (int repeat = 0; repeat < 20; repeat++)
        {
            int[] claimed = new int[units];
            // Deliberately misaligned: the split aligns its lines itself.
            byte* raw = (byte*)NativeMemory.Alloc((nuint)StreamingSplit.BoardBytes(threads) + 8), board = raw + 8;
            try
            {
                var split = new StreamingSplit(units, unitBytes, board, threads);
                using var start = new Barrier(threads);
                Thread[] workers = Enumerable.Range(0, threads).Select(task => new Thread(() =>
                {
                    start.SignalAndWait();
                    while (split.TryClaim(task, out int first, out int last))
                    {
                        for (int u = first; u < last; u++)
                        {
                            Interlocked.Increment(ref claimed[u]);
                        }
                    }
                })).ToArray();
                foreach (Thread worker in workers)
                {
                    worker.Start();
                }
                foreach (Thread worker in workers)
                {
                    worker.Join();
                }
            }
            finally
            {
                NativeMemory.Free(raw);
            }
            Assert.All(claimed, count => Assert.Equal(1, count));
        }
    }

    [Fact]
    public void AThreadThatArrivesLateFindsItsRangeTakenOver()
    {
        const int Units = 4096, Threads = 2;
        byte* board = stackalloc byte[StreamingSplit.BoardBytes(Threads)];
        var split = new StreamingSplit(Units, SixtyFourUnitChunks, board, Threads);
        int[] byTask = new int[Threads];
        using var firstDone = new ManualResetEventSlim();
        var args = new LateArgs { Split = split, ByTask = byTask, FirstDone = firstDone };
        var handle = GCHandle.Alloc(args);
        try
        {
            using var pool = new WorkerPool(Threads);
            pool.Run(split.Tasks, &LateTask, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        // Task 1 started only after task 0 had finished, and task 0 had stolen everything by then.
        Assert.Equal(Units, byTask[0]);
        Assert.Equal(0, byTask[1]);
    }

    [Fact]
    public void SplitsRejectBadArguments()
    {
        byte* board = stackalloc byte[StreamingSplit.BoardBytes(1)];
        Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingSplit(-1, 4, board, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingSplit(8, 0, board, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingSplit(8, 4, board, 0));
    }

    private sealed class LateArgs
    {
        public StreamingSplit Split;
        public required int[] ByTask;
        public required ManualResetEventSlim FirstDone;
    }

    private static void LateTask(void* argsPointer, int task)
    {
        var args = (LateArgs)GCHandle.FromIntPtr((nint)argsPointer).Target!;
        if (task == 1)
        {
            // Whichever thread runs task 1 waits until task 0 is over (the pool hands out task 0 first).
            args.FirstDone.Wait();
        }
        while (args.Split.TryClaim(task, out int start, out int end))
        {
            args.ByTask[task] += end - start;
        }
        if (task == 0)
        {
            args.FirstDone.Set();
        }
    }

    private static void AssertEveryUnitOnce(int units, IEnumerable<(int Start, int End)> claims)
    {
        int[] count = new int[units];
        foreach ((int start, int end) in claims)
        {
            for (int u = start; u < end; u++)
            {
                count[u]++;
            }
        }
        Assert.All(count, c => Assert.Equal(1, c));
    }
}
