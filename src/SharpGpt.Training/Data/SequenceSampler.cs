using SharpGpt.Model;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Training.Data;

/// <summary>Where a sampler is: the epoch and the next sequence within it. Saved in checkpoints.</summary>
public readonly record struct SamplerPosition(long Epoch, long Index);

/// <summary>
/// Serves (B, T) training batches as GPT-3 does: the stream is cut into non-overlapping windows of T + 1
/// tokens (inputs and next-token targets), visited in a fresh seeded order each epoch, without replacement.
/// The order depends only on (seed, epoch), and the position is two numbers, so a resumed run sees exactly
/// the batches the uninterrupted run would have. With several data-parallel ranks, each takes a disjoint
/// share of every global batch.
/// </summary>
public sealed class SequenceSampler
{
    private readonly TokenStream _stream;
    private readonly int _time;
    private readonly ulong _seed;
    private long[] _order = [];
    private long _orderEpoch = -1;

    public SequenceSampler(TokenStream stream, int time, ulong seed)
    {
        if (time < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(time));
        }
        _stream = stream;
        _time = time;
        _seed = seed;
        SequencesPerEpoch = (stream.Count - 1) / time;
        if (SequencesPerEpoch < 1)
        {
            throw new SharpGptException($"The split has {stream.Count} tokens, too few for one sequence of {time} + 1.");
        }
    }

    public long SequencesPerEpoch { get; }

    public SamplerPosition Position { get; set; }

    /// <summary>
    /// Fills inputs and targets (each batch × T) with the next global batch's share for <paramref name="rank"/>
    /// of <paramref name="ranks"/>: global batch = batch × ranks sequences, rank r takes every ranks-th one.
    /// </summary>
    public void NextBatch(Span<int> inputs, Span<int> targets, int batch, int rank = 0, int ranks = 1)
    {
        int[] buffer = new int[_time + 1];
        for (int i = 0; i < batch * ranks; i++)
        {
            long sequence = Next();
            if (i % ranks != rank)
            {
                continue;
            }
            int row = i / ranks;
            _stream.Read(sequence * _time, buffer);
            buffer.AsSpan(0, _time).CopyTo(inputs.Slice(row * _time, _time));
            buffer.AsSpan(1, _time).CopyTo(targets.Slice(row * _time, _time));
        }
    }

    private long Next()
    {
        SamplerPosition position = Position;
        if (position.Index >= SequencesPerEpoch)
        {
            position = new SamplerPosition(position.Epoch + 1, 0);
        }
        if (_orderEpoch != position.Epoch)
        {
            _order = Permutation(position.Epoch);
            _orderEpoch = position.Epoch;
        }
        long sequence = _order[position.Index];
        Position = position with { Index = position.Index + 1 };
        return sequence;
    }

    private long[] Permutation(long epoch)
    {
        long[] order = new long[SequencesPerEpoch];
        for (long i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        new Rng(_seed * 0x9E3779B97F4A7C15UL + (ulong)epoch).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>
    /// A fixed validation set: <paramref name="count"/> windows spread evenly over the whole split (not just its
    /// start, which would over-represent whichever source was prepared first).
    /// </summary>
    public static IEnumerable<(int[] Inputs, int[] Targets)> Sequential(TokenStream stream, int time, int batch, int count)
    {
        long available = (stream.Count - 1) / time;
        int windows = (int)Math.Min(count, available);
        int[] buffer = new int[time + 1];
        for (int start = 0; start < windows; start += batch)
        {
            int rows = Math.Min(batch, windows - start);
            int[] inputs = new int[rows * time], targets = new int[rows * time];
            for (int r = 0; r < rows; r++)
            {
                long window = (long)(start + r) * available / windows;
                stream.Read(window * time, buffer);
                buffer.AsSpan(0, time).CopyTo(inputs.AsSpan(r * time));
                buffer.AsSpan(1, time).CopyTo(targets.AsSpan(r * time));
            }
            yield return (inputs, targets);
        }
    }
}
