using SharpGpt.Tensors.Simd;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// One query row attending over a key/value cache. Keys and Values point at the cache of the row's
/// sequence for this layer: Capacity rows of C floats, where absolute position s lives in row s mod Capacity.
/// A dense layer's cache holds every position (Capacity ≥ context); a local layer's cache is a ring buffer
/// a little larger than the window, so its memory stays bounded however long the sequence grows.
/// </summary>
public unsafe struct CachedAttentionRow
{
    public float* Query;
    public float* Output;
    public float* Keys;
    public float* Values;
    public int Position;
    public int Capacity;
}

/// <summary>Attention of new tokens against the cache (decoding, chunked prefill, scoring).</summary>
public static unsafe class CachedAttention
{
    /// <summary>
    /// For each row r: Output[h] = softmax_s(scale · Query[h]·Key_s[h]) · Value_s[h] over visible positions s ≤ Position.
    /// The keys and values of every visible position, the row's own included, must already be in the cache.
    /// </summary>
    public static void Forward(CachedAttentionRow* rows, int rowCount, AttentionShape shape)
    {
        // Validate before dispatch: an exception inside a worker task cannot be reported cleanly.
        for (int r = 0; r < rowCount; r++)
        {
            int needed = rows[r].Position - shape.FirstVisible(rows[r].Position) + 1;
            if (needed > rows[r].Capacity)
            {
                throw new InvalidOperationException($"Position {rows[r].Position} needs {needed} cached positions but the cache holds {rows[r].Capacity}.");
            }
        }
        CachedArgs args = new() { Rows = rows, RowCount = rowCount, Shape = shape };
        WorkerPool.Shared.Run(rowCount * shape.Heads, &Task, &args);
    }

    private struct CachedArgs
    {
        public CachedAttentionRow* Rows;
        public int RowCount;
        public AttentionShape Shape;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref CachedArgs args = ref *(CachedArgs*)argsPointer;
        AttentionShape shape = args.Shape;
        CachedAttentionRow row = args.Rows[task / shape.Heads];
        int h = task % shape.Heads;
        int hd = shape.HeadDim, c = shape.Channels;
        int first = shape.FirstVisible(row.Position);
        float* scores = ScratchArena.Get(ScratchArena.AttentionRow, row.Position - first + 1);
        float* q = row.Query + h * hd;
        float max = float.NegativeInfinity;
        for (int s = first; s <= row.Position; s++)
        {
            float score = VectorOps.Dot(q, row.Keys + (long)(s % row.Capacity) * c + h * hd, hd) * shape.Scale;
            scores[s - first] = score;
            max = MathF.Max(max, score);
        }
        float sum = 0f;
        for (int s = first; s <= row.Position; s++)
        {
            float e = MathF.Exp(scores[s - first] - max);
            scores[s - first] = e;
            sum += e;
        }
        float inverse = 1f / sum;
        float* o = row.Output + h * hd;
        VectorOps.Zero(o, hd);
        for (int s = first; s <= row.Position; s++)
        {
            VectorOps.Axpy(scores[s - first] * inverse, row.Values + (long)(s % row.Capacity) * c + h * hd, o, hd);
        }
    }
}
