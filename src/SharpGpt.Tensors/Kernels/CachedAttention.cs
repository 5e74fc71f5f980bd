using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Simd;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Attention of new tokens against the cache (decoding, chunked prefill, scoring). One pool job per layer runs
/// every chunk of the step: a task is one head of one decoding row, or one head of one block of
/// <see cref="PromptBlockAttention.QueryBlock"/> prompt rows.
/// </summary>
public static unsafe class CachedAttention
{
    /// <summary>
    /// How many positions ahead the row path prefetches a head's keys. Decoding's weight stream has evicted the cache
    /// from L3 by the next layer. When the cache was position-major (a head's slice hd floats every C, a stride the
    /// hardware prefetchers do not follow), 12 layers of a 1,024-token GPT-2 cache took 5.3 ms without prefetching
    /// and 2.3 ms with 16 positions (2.5 ms with 8). Now that each head's rows are contiguous the hardware streams
    /// long contexts by itself (prefetching only the first 16 positions was ≈ 7 % faster after a 512-token prompt),
    /// but the look-ahead still wins for short ones (0.15–0.17 against 0.18–0.21 ms a token after 16 tokens, three
    /// alternating runs each), which is where most decoding happens.
    /// </summary>
    private const int PrefetchPositions = 16;

    /// <summary>Chunks handled with a stack-allocated task table; larger steps rent one from the heap.</summary>
    private const int StackChunks = 256;

    /// <summary>
    /// For each row of each chunk: Output[h] = softmax_s(scale · Query[h]·Key_s[h]) · Value_s[h] over the
    /// positions s the row sees. The keys and values of every position of every chunk must already be in the cache.
    /// </summary>
    public static void Forward(CachedAttentionChunk* chunks, int chunkCount, AttentionShape shape)
    {
        // Validate before dispatch: an exception inside a worker task cannot be reported cleanly.
        for (int i = 0; i < chunkCount; i++)
        {
            CachedAttentionChunk chunk = chunks[i];
            if (chunk.Count < 1 || chunk.FirstPosition < 0)
            {
                throw new ArgumentException($"Chunk {i} has {chunk.Count} rows from position {chunk.FirstPosition}.", nameof(chunks));
            }
            // Every key of the chunk is in the ring at once, from what its first row sees to its last row.
            int needed = chunk.LastPosition - shape.FirstVisible(chunk.FirstPosition) + 1;
            if (needed > chunk.Capacity)
            {
                throw new InvalidOperationException(
                    $"Positions {chunk.FirstPosition}..{chunk.LastPosition} need {needed} cached positions but the cache holds {chunk.Capacity}.");
            }
        }
        Span<int> firstUnit = chunkCount > StackChunks ? new int[chunkCount + 1] : stackalloc int[chunkCount + 1];
        firstUnit[0] = 0;
        for (int i = 0; i < chunkCount; i++)
        {
            firstUnit[i + 1] = firstUnit[i] + Units(chunks[i]);
        }
        fixed (int* units = firstUnit)
        {
            ForwardArgs args = new() { Chunks = chunks, ChunkCount = chunkCount, FirstUnit = units, Shape = shape };
            WorkerPool.Shared.Run(firstUnit[chunkCount] * shape.Heads, &Task, &args);
        }
    }

    /// <summary>Work units of a chunk: one per decoding row, one per block of prompt rows.</summary>
    private static int Units(CachedAttentionChunk chunk) =>
        chunk.Decoding ? chunk.Count : (chunk.Count + PromptBlockAttention.QueryBlock - 1) / PromptBlockAttention.QueryBlock;

    private struct ForwardArgs
    {
        public CachedAttentionChunk* Chunks;
        public int ChunkCount;
        /// <summary>ChunkCount + 1 prefix sums of <see cref="Units"/>.</summary>
        public int* FirstUnit;
        public AttentionShape Shape;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref ForwardArgs args = ref *(ForwardArgs*)argsPointer;
        int unit = task / args.Shape.Heads, h = task % args.Shape.Heads;
        // The chunk holding this unit: the last whose first unit is ≤ unit.
        int lo = 0, hi = args.ChunkCount - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (args.FirstUnit[mid] <= unit)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        ref CachedAttentionChunk chunk = ref args.Chunks[lo];
        int index = unit - args.FirstUnit[lo];
        if (chunk.Decoding)
        {
            Row(ref chunk, index, h, args.Shape);
        }
        else
        {
            // Last block first: later blocks see more keys, and starting them early keeps the tail of the job short.
            int blocks = args.FirstUnit[lo + 1] - args.FirstUnit[lo];
            PromptBlockAttention.Block(ref chunk, blocks - 1 - index, h, args.Shape);
        }
    }

    /// <summary>
    /// Head h of row r of a decoding chunk: one pass over the cache for scores, a vectorised softmax, one pass for
    /// the weighted values. GPT-2, 64 tokens decoded after a 16-token prompt (/tmp harness, same process,
    /// alternating, medians of 20): prefetching the first keys and each value during the score pass took attention
    /// from 0.27 to 0.22 ms a token (faster in 20 of 20), 1.79 → 1.72 ms after a 512-token prompt (16 of 20); the
    /// vectorised softmax (it replaced a scalar exp per position) then read 0.20 and 1.35 ms in a later run.
    /// </summary>
    private static void Row(ref CachedAttentionChunk chunk, int r, int h, AttentionShape shape)
    {
        int hd = shape.HeadDim, capacity = chunk.Capacity;
        int position = chunk.FirstPosition + r, first = shape.FirstVisible(position), count = position - first + 1;
        float* scores = ScratchArena.Get(ScratchArena.AttentionRow, count);
        float* q = chunk.Query + (long)r * chunk.QueryStride + h * hd;
        // Head h's rows: contiguous, hd floats apart (see CachedAttentionChunk).
        float* keys = chunk.Keys + (long)h * capacity * hd, values = chunk.Values + (long)h * capacity * hd;
        // Ring rows advance with a compare instead of a % per position (an integer division on every key and
        // value: it cost more than the arithmetic). Both offsets are < capacity, so one subtraction wraps them.
        int firstRow = first % capacity, lookAhead = PrefetchPositions % capacity;
        // The first keys are not covered by the loop's look-ahead: ask for them up front. Each value slice is
        // requested as its key is scored, so the second pass finds every one in L1/L2.
        for (int i = 0, row = firstRow; i < Math.Min(count, PrefetchPositions); i++, row = Next(row, capacity))
        {
            PrefetchSlice(keys + (long)row * hd, hd);
        }
        for (int i = 0, row = firstRow; i < count; i++, row = Next(row, capacity))
        {
            int ahead = row + lookAhead;
            PrefetchSlice(keys + (long)(ahead >= capacity ? ahead - capacity : ahead) * hd, hd);
            PrefetchSlice(values + (long)row * hd, hd);
            scores[i] = VectorOps.Dot(q, keys + (long)row * hd, hd);
        }
        // The scores sit at the start of the scratch row, as the prompt path's do.
        var probabilities = new Span<float>(scores, count);
        PromptBlockAttention.Softmax(probabilities, probabilities, shape.Scale);
        float* o = chunk.Output + (long)r * chunk.OutputStride + h * hd;
        VectorOps.Zero(o, hd);
        for (int i = 0, row = firstRow; i < count; i++, row = Next(row, capacity))
        {
            VectorOps.Axpy(scores[i], values + (long)row * hd, o, hd);
        }
    }

    /// <summary>The ring row after <paramref name="row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Next(int row, int capacity) => row + 1 == capacity ? 0 : row + 1;

    /// <summary>Prefetches the cache lines of one head's slice (hd floats); addresses stay inside the cache's ring.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchSlice(float* slice, int hd)
    {
        if (!Sse.IsSupported)
        {
            return;
        }
        // Four lines at once (hd = 64, the GPT-2/GPT-3 head): unrolled, it measured 1.5x faster than a line loop.
        int line = 0;
        for (; line + 64 <= hd; line += 64)
        {
            Sse.Prefetch0(slice + line);
            Sse.Prefetch0(slice + line + 16);
            Sse.Prefetch0(slice + line + 32);
            Sse.Prefetch0(slice + line + 48);
        }
        for (; line < hd; line += 16)
        {
            Sse.Prefetch0(slice + line);
        }
    }
}
