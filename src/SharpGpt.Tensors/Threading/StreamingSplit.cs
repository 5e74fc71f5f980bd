namespace SharpGpt.Tensors.Threading;

/// <summary>
/// How a job that streams <see cref="Units"/> equal units of memory once (a decode-time matvec's weight rows) is cut
/// into tasks for <see cref="Threads"/> threads. The first task of each thread is one long contiguous range (together
/// 7/8 of the units), because the hardware prefetchers lose their stream at every jump (int8: 24.6 GB/s with 32-row
/// tasks, 47 GB/s with long ranges). The last eighth is cut into shrinking ranges (a quarter of what is left per
/// two threads, at least 1/64 of the units) that whichever thread is free claims, so both threads stream until the
/// end instead of one idling while the other finishes a long last range. Against two equal ranges per thread, same
/// process, alternating: the 49 GPT-2 decode matrices and the head 43.5–45.7 → 49.4–49.6 GB/s; GPT-2 fp32 decoding
/// 117 → 131 tokens/s, 80 → 88 % of a sustained plain read (medians of 30 pairs; guided faster in all 6 rounds);
/// int8 234 → 328 tokens/s (medians of 20; faster or level in each of 4 rounds).
/// </summary>
public readonly struct StreamingSplit
{
    /// <summary>The long first ranges take (Share − 1) / Share of the units.</summary>
    private const int Share = 8;

    /// <summary>The shortest later range is 1/MinimumFraction of the units.</summary>
    private const int MinimumFraction = 64;

    private readonly int _head, _minimum;

    public StreamingSplit(int units, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(units);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Units = units;
        Threads = threads;
        _head = threads == 1 ? units : Math.Max(1, (int)((long)units * (Share - 1) / Share / threads));
        _minimum = Math.Max(1, units / MinimumFraction);
        int tasks = 0;
        for (int start = 0; start < units; tasks++)
        {
            start = Range(tasks).End;
        }
        Tasks = tasks;
    }

    public int Units { get; }

    public int Threads { get; }

    /// <summary>Tasks to run; task t covers <see cref="Range"/>(t), and the ranges tile [0, Units) in order.</summary>
    public int Tasks { get; }

    public (int Start, int End) Range(int task)
    {
        int start = 0;
        for (int i = 0; ; i++)
        {
            int remaining = Units - start;
            int size = Math.Min(remaining, i < Threads ? _head : Math.Max(_minimum, remaining / (2 * Threads)));
            if (i == task)
            {
                return (start, start + size);
            }
            start += size;
        }
    }
}
