using System.Numerics.Tensors;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Prompt rows of <see cref="CachedAttention"/>, tiled: a block of <see cref="QueryBlock"/> consecutive positions
/// of one head takes its scores S = Q·Kᵀ from the packed GEMM micro-kernel and its outputs O = P·V from
/// <see cref="AttentionValueTile"/>, instead of one dot product and one axpy per (query, key) pair.
/// <para>
/// Row invariance: the scores of a block are exact per element (one FMA chain over the head dimension); each row's
/// softmax runs on its visible scores copied to the start of a scratch row, so the vectorised reductions see the
/// same length and alignment whichever block the row is in; and O sums the keys in position order, where the
/// positions another row of the block needs but this one does not see contribute exact zeros. A prompt row's output
/// is therefore the same bits however the prompt was chunked (chunks of 61 or 512 rows, any ring capacity).
/// </para>
/// </summary>
public static unsafe class PromptBlockAttention
{
    /// <summary>
    /// Query rows per block. 32 rows keep the diagonal block's masked half small (≈ 1/(2·T/32) of the work) while
    /// the score GEMM still fills whole 8-row micro-tiles; scratch is 32 × (window or context + 31) floats.
    /// </summary>
    public const int QueryBlock = 32;

    /// <summary>Head <paramref name="h"/> of rows [block·QueryBlock, …) of a prompt chunk whose keys and values are all cached.</summary>
    internal static void Block(ref CachedAttentionChunk chunk, int block, int h, AttentionShape shape)
    {
        int hd = shape.HeadDim, capacity = chunk.Capacity;
        int r0 = block * QueryBlock, rows = Math.Min(QueryBlock, chunk.Count - r0);
        int p0 = chunk.FirstPosition + r0, pLast = p0 + rows - 1;
        // Key positions j0 … pLast: everything some row of the block sees. Scores row r, column j is position j0 + j.
        int j0 = shape.FirstVisible(p0), span = pLast - j0 + 1;
        int ld = (span + 15) & ~15;
        float* scores = ScratchArena.Get(ScratchArena.AttentionRow, (long)QueryBlock * ld);
        float* q = chunk.Query + (long)r0 * chunk.QueryStride + h * hd;
        // Head h's cached rows: contiguous, hd floats apart (see CachedAttentionChunk).
        float* keys = chunk.Keys + (long)h * capacity * hd, values = chunk.Values + (long)h * capacity * hd;
        // S (rows × span) = Q_block · K_spanᵀ: one GEMM per run of positions that is contiguous in the ring.
        for (int position = j0; position <= pLast;)
        {
            int ring = position % capacity, length = Math.Min(pLast + 1 - position, capacity - ring);
            Gemm.Gemm.MultiplyOnThisThread(rows, length, hd, MatrixView.RowMajor(q, chunk.QueryStride),
                MatrixView.Transposed(keys + (long)ring * hd, hd), scores + (position - j0), ld, accumulate: false);
            position += length;
        }
        float* visible = ScratchArena.Get(ScratchArena.AttentionProbabilities, span);
        for (int r = 0; r < rows; r++)
        {
            int position = p0 + r, first = shape.FirstVisible(position) - j0, count = position - j0 - first + 1;
            Span<float> row = new(scores + (long)r * ld, span);
            Softmax(row.Slice(first, count), new Span<float>(visible, count), shape.Scale);
            row[..first].Clear();
            row[(first + count)..].Clear();
        }
        AttentionValueTile.Multiply(scores, ld, rows, span, j0, values, hd, capacity, hd,
            chunk.Output + (long)r0 * chunk.OutputStride + h * hd, chunk.OutputStride);
    }

    /// <summary>
    /// scores ← softmax(scale · scores), computed in <paramref name="scratch"/> (the start of a scratch buffer) so
    /// that the result depends only on the values, not on where the row sits in the block. Vectorised, exp
    /// included; decoding rows (<see cref="CachedAttention"/>) use it too.
    /// </summary>
    internal static void Softmax(Span<float> scores, Span<float> scratch, float scale)
    {
        TensorPrimitives.Multiply(scores, scale, scratch);
        float max = TensorPrimitives.Max(scratch);
        TensorPrimitives.Subtract(scratch, max, scratch);
        TensorPrimitives.Exp(scratch, scratch);
        float sum = TensorPrimitives.Sum(scratch);
        TensorPrimitives.Multiply(scratch, 1f / sum, scores);
    }
}
