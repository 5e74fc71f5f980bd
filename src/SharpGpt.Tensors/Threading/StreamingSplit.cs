using System.Runtime.InteropServices;

namespace SharpGpt.Tensors.Threading;

/// <summary>
/// How a job that streams <see cref="Units"/> equal units of memory once (a decode-time matvec's weight rows) is
/// shared by <see cref="Threads"/> threads. Each task (one per thread) owns an equal contiguous range and claims it
/// front to back in chunks of about <see cref="ChunkBytes"/>, so each thread reads one long sequential stream, which
/// the hardware prefetchers need (int8: 24.6 GB/s with 32-row tasks, 47 GB/s with long ranges). A task whose range is
/// empty steals the back half of the largest unclaimed remainder and owns that from then on, so a thread that is
/// descheduled or slowed (this shared VM pauses a vCPU for tens of microseconds to milliseconds) does not leave the
/// other waiting at the end of the job: whatever it has not claimed yet moves over.
/// <para>
/// Against the previous split (7/8 of the units in one fixed range per thread, then shrinking shared tasks), GPT-2
/// fp32 decoding in the same process, alternating: the time a thread waited for the other at the end of a job fell
/// from 0.28–0.44 to 0.16–0.18 ms a token, and median tokens/s rose 111.7 → 115.9, 113.8 → 123.3 and
/// 117.9 → 123.2 (20, 20 and 40 pairs). Chunks of 16 KiB were slower, and 256 KiB left more waiting.
/// </para>
/// <para>
/// The claim state lives in a board of <see cref="BoardBytes"/> that the caller provides (stack memory outlives the
/// job, as the pool's <see cref="WorkerPool.Run"/> blocks): one 64-byte-aligned cache line per thread, so owners
/// share no line with each other or with the caller's job arguments.
/// </para>
/// </summary>
public readonly unsafe struct StreamingSplit
{
    /// <summary>
    /// Units an owner claims at a time, in bytes: about 2.5 µs of reading for one core here. The last chunk each
    /// thread takes is the imbalance stealing cannot remove, and a claim is one uncontended compare-and-swap.
    /// </summary>
    public const int ChunkBytes = 64 << 10;

    /// <summary>Bytes of a cache line (x64 and Arm64 alike).</summary>
    private const int LineBytes = 64;

    /// <summary>One task's unclaimed range, packed as next (low 32 bits) and end (high 32 bits); one cache line.</summary>
    [StructLayout(LayoutKind.Explicit, Size = LineBytes)]
    private struct Slot
    {
        [FieldOffset(0)] public long Range;
    }

    private readonly Slot* _slots;
    private readonly int _chunk;

    /// <param name="units">Units to stream.</param>
    /// <param name="unitBytes">Bytes one unit reads, which sizes the chunks.</param>
    /// <param name="board">At least <see cref="BoardBytes"/>(<paramref name="threads"/>) bytes of claim state, any alignment; must stay valid until the job ends.</param>
    /// <param name="threads">Threads that will run the tasks.</param>
    public StreamingSplit(int units, long unitBytes, byte* board, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(units);
        ArgumentOutOfRangeException.ThrowIfLessThan(unitBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Units = units;
        Threads = threads;
        _slots = (Slot*)(((nint)board + LineBytes - 1) & ~(nint)(LineBytes - 1));
        _chunk = (int)Math.Max(1, ChunkBytes / unitBytes);
        for (int t = 0; t < threads; t++)
        {
            (int start, int end) = WorkerPool.Partition(units, threads, t);
            _slots[t].Range = Pack(start, end);
        }
    }

    /// <summary>Bytes of claim state a split for <paramref name="threads"/> threads needs: a line each, plus one for alignment.</summary>
    public static int BoardBytes(int threads) => (threads + 1) * LineBytes;

    public int Units { get; }

    public int Threads { get; }

    /// <summary>Tasks to run: one per thread (none when there is nothing to stream).</summary>
    public int Tasks => Units == 0 ? 0 : Threads;

    /// <summary>
    /// The next contiguous units for <paramref name="task"/>: a chunk of its own range, or else of a range it steals.
    /// False when no unclaimed units are left anywhere. Every unit is handed out exactly once, in increasing order
    /// within each claim, whichever threads run the tasks and whenever they arrive.
    /// </summary>
    public bool TryClaim(int task, out int start, out int end)
    {
        ref long own = ref _slots[task].Range;
        while (true)
        {
            long range = Volatile.Read(ref own);
            (int next, int last) = Unpack(range);
            if (next >= last)
            {
                if (!TrySteal(task))
                {
                    start = end = 0;
                    return false;
                }
                continue;
            }
            int take = Math.Min(_chunk, last - next);
            if (Interlocked.CompareExchange(ref own, Pack(next + take, last), range) == range)
            {
                start = next;
                end = next + take;
                return true;
            }
        }
    }

    /// <summary>
    /// Moves the back half of the largest unclaimed range (all of it when at most a chunk is left) into
    /// <paramref name="task"/>'s slot. False when nothing is left.
    /// </summary>
    private bool TrySteal(int task)
    {
        while (true)
        {
            int victim = -1, most = 0;
            long seen = 0;
            for (int t = 0; t < Threads; t++)
            {
                long range = Volatile.Read(ref _slots[t].Range);
                (int next, int last) = Unpack(range);
                if (last - next > most)
                {
                    victim = t;
                    most = last - next;
                    seen = range;
                }
            }
            if (victim < 0)
            {
                return false;
            }
            (int victimNext, int victimEnd) = Unpack(seen);
            int take = most <= _chunk ? most : most / 2;
            int split = victimEnd - take;
            if (Interlocked.CompareExchange(ref _slots[victim].Range, Pack(victimNext, split), seen) == seen)
            {
                // Own slot is empty, so no one steals from it until this store publishes the new range.
                Volatile.Write(ref _slots[task].Range, Pack(split, victimEnd));
                return true;
            }
        }
    }

    private static long Pack(int next, int end) => (long)end << 32 | (uint)next;

    private static (int Next, int End) Unpack(long range) => ((int)range, (int)(range >> 32));
}
