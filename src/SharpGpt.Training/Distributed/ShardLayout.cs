using SharpGpt.Model;

namespace SharpGpt.Training.Distributed;

/// <summary>One contiguous piece of a rank's shard: a slice of one unit.</summary>
public readonly record struct ShardSegment(int Unit, long GlobalStart, long Length, long LocalStart);

/// <summary>
/// How the flat parameter space is split among N ranks for ZeRO: every unit (embeddings, each block, final
/// LayerNorm) is cut into N near-equal slices, rank r keeping slice r of each. A rank's shard is those slices
/// back to back. Sharding by unit lets stage 3 gather one block at a time, and lets every collective work on
/// one unit.
/// </summary>
public sealed class ShardLayout
{
    public ShardLayout(ParameterLayout layout, int ranks, int rank)
    {
        Layout = layout;
        Ranks = ranks;
        Rank = rank;
        int units = layout.Units.Count;
        Counts = new int[units][];
        Offsets = new long[units][];
        var segments = new List<ShardSegment>();
        long local = 0;
        for (int u = 0; u < units; u++)
        {
            (long start, long end) = layout.Units[u];
            long length = end - start;
            Counts[u] = new int[ranks];
            Offsets[u] = new long[ranks];
            long offset = 0;
            for (int r = 0; r < ranks; r++)
            {
                Counts[u][r] = checked((int)(length / ranks + (r < length % ranks ? 1 : 0)));
                Offsets[u][r] = offset;
                offset += Counts[u][r];
            }
            segments.Add(new ShardSegment(u, start + Offsets[u][rank], Counts[u][rank], local));
            local += Counts[u][rank];
        }
        Segments = segments;
        LocalLength = local;
    }

    public ParameterLayout Layout { get; }

    public int Ranks { get; }

    public int Rank { get; }

    /// <summary>Counts[unit][rank]: elements of each rank's slice of each unit.</summary>
    public int[][] Counts { get; }

    /// <summary>Offsets[unit][rank]: where each rank's slice starts within the unit.</summary>
    public long[][] Offsets { get; }

    /// <summary>This rank's slices, one per unit, in order.</summary>
    public IReadOnlyList<ShardSegment> Segments { get; }

    /// <summary>Elements this rank holds.</summary>
    public long LocalLength { get; }

    /// <summary>
    /// The AdamW groups of this rank's shard: (global offset, local offset, length, decay?) for each piece of a
    /// tensor that falls in one of this rank's slices. Decay applies to matrices only (GPT-3 recipe).
    /// </summary>
    public IEnumerable<(long Global, long Local, long Length, bool Decay)> OptimizerGroups(bool decayAll = false)
    {
        foreach (ShardSegment segment in Segments)
        {
            long segmentEnd = segment.GlobalStart + segment.Length;
            foreach (ParameterTensor tensor in Layout.Tensors)
            {
                long start = Math.Max(segment.GlobalStart, tensor.Offset), end = Math.Min(segmentEnd, tensor.Offset + tensor.Length);
                if (start < end)
                {
                    yield return (start, segment.LocalStart + (start - segment.GlobalStart), end - start, decayAll || tensor.Kind == ParameterKind.Matrix);
                }
            }
        }
    }
}
