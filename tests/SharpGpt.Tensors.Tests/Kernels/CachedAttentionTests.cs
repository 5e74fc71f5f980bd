using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class CachedAttentionTests
{
    /// <summary>Same arithmetic as the training kernel, so the same bound (see AttentionTests).</summary>
    private const double Absolute = 2e-5, Relative = 1e-4;

    [Theory]
    [InlineData(9, 2, 8, 0, 9)]   // dense cache holding every position
    [InlineData(20, 3, 5, 4, 7)]  // local window 4 in a ring of 7: positions wrap around
    [InlineData(31, 2, 16, 8, 8)] // ring exactly the window
    [InlineData(12, 1, 17, 0, 12)]
    public void DecodingRowsMatchFullAttention(int time, int heads, int headDim, int window, int capacity)
    {
        AttentionShape shape = new(heads, headDim, window, 1f / MathF.Sqrt(headDim));
        (float[] qkv, float[] expected) = Problem(time, shape);
        // Feed the sequence one token at a time, as decoding does.
        float[] actual = Run(qkv, time, shape, chunkSize: 1, capacity, decoding: true);
        NumericAssert.Close(expected, actual, Absolute, Relative, "cached attention, decoding rows");
    }

    /// <summary>
    /// Prompt rows in chunks, each chunk's keys and values written into the ring before its attention, with the
    /// ring the inference session gives a local layer (window + chunk − 1). Head sizes cover the 4×64 Vector512 tile
    /// (64, 128), the tile plus the per-row columns (80), vector and scalar tails (17, 24) and blocks of 32 queries
    /// with a partial last block.
    /// </summary>
    [Theory]
    [InlineData(70, 2, 64, 0, 70)]   // dense, three blocks (32 + 32 + 6)
    [InlineData(70, 2, 64, 0, 33)]   // dense in chunks of 33: a block boundary inside each chunk
    [InlineData(90, 3, 80, 16, 7)]   // local window 16, ring of 22 wraps inside blocks
    [InlineData(45, 1, 17, 0, 5)]    // odd head size: every column on the per-row path
    [InlineData(64, 2, 24, 9, 64)]   // window 9 in one chunk of 64
    [InlineData(40, 1, 128, 0, 1)]   // prompt chunks of one row
    public void PromptChunksMatchFullAttention(int time, int heads, int headDim, int window, int chunkSize)
    {
        AttentionShape shape = new(heads, headDim, window, 1f / MathF.Sqrt(headDim));
        (float[] qkv, float[] expected) = Problem(time, shape);
        float[] actual = Run(qkv, time, shape, chunkSize, SessionCapacity(time, window, chunkSize), decoding: false);
        NumericAssert.Close(expected, actual, Absolute, Relative, "cached attention, prompt blocks");
    }

    /// <summary>
    /// The evaluation harness and the server split prompts wherever a step fills up, and the ring's size follows
    /// the step size: a prompt row's output must be the same bits for every chunking and ring (dense and local).
    /// </summary>
    [Theory]
    [InlineData(0, 64)]
    [InlineData(12, 64)]
    [InlineData(12, 80)]
    [InlineData(5, 17)]
    public void PromptRowsAreTheSameBitsHoweverThePromptIsChunked(int window, int headDim)
    {
        const int time = 100;
        AttentionShape shape = new(2, headDim, window, 1f / MathF.Sqrt(headDim));
        (float[] qkv, _) = Problem(time, shape);
        float[] whole = Run(qkv, time, shape, time, SessionCapacity(time, window, time), decoding: false);
        foreach (int chunkSize in new[] { 1, 7, 31, 33, 61 })
        {
            float[] chunked = Run(qkv, time, shape, chunkSize, SessionCapacity(time, window, chunkSize), decoding: false);
            Assert.True(whole.AsSpan().SequenceEqual(chunked), $"chunks of {chunkSize} changed a prompt row's bits");
        }
    }

    /// <summary>One step holding a decoding row of one sequence and prompt chunks of two others.</summary>
    [Fact]
    public void AStepMixesDecodingAndPromptChunksOfSeveralSequences()
    {
        AttentionShape shape = new(2, 64, 0, 0.125f);
        int c = shape.Channels;
        int[] lengths = [40, 37, 9];
        var problems = lengths.Select(t => Problem(t, shape)).ToArray();
        float[][] keys = lengths.Select(t => new float[t * c]).ToArray(), values = lengths.Select(t => new float[t * c]).ToArray();
        float[][] outputs = lengths.Select(t => new float[t * c]).ToArray();
        // Sequence 0 has its first 39 positions cached and decodes position 39; 1 prefills 37 rows, 2 its last 5.
        int[] firstNew = [39, 0, 4];
        for (int s = 0; s < 3; s++)
        {
            for (int t = 0; t < lengths[s]; t++)
            {
                StoreHeadMajor(problems[s].Qkv, t * 3 * c + c, keys[s], t, lengths[s], shape);
                StoreHeadMajor(problems[s].Qkv, t * 3 * c + 2 * c, values[s], t, lengths[s], shape);
            }
        }
        fixed (float* q0 = problems[0].Qkv, q1 = problems[1].Qkv, q2 = problems[2].Qkv, k0 = keys[0], k1 = keys[1], k2 = keys[2])
        fixed (float* v0 = values[0], v1 = values[1], v2 = values[2], o0 = outputs[0], o1 = outputs[1], o2 = outputs[2])
        {
            float*[] q = [q0, q1, q2], k = [k0, k1, k2], v = [v0, v1, v2], o = [o0, o1, o2];
            CachedAttentionChunk* chunks = stackalloc CachedAttentionChunk[3];
            for (int s = 0; s < 3; s++)
            {
                chunks[s] = Chunk(q[s] + firstNew[s] * 3 * c, o[s] + firstNew[s] * c, k[s], v[s], c, firstNew[s], lengths[s] - firstNew[s], lengths[s], decoding: s == 0);
            }
            CachedAttention.Forward(chunks, 3, shape);
        }
        for (int s = 0; s < 3; s++)
        {
            int from = firstNew[s] * c;
            NumericAssert.Close(problems[s].Expected.AsSpan(from).ToArray(), outputs[s].AsSpan(from).ToArray(), Absolute, Relative, $"sequence {s}");
        }
    }

    [Fact]
    public void RejectsACacheSmallerThanTheVisibleSpan()
    {
        AttentionShape shape = new(1, 4, 0, 1f);
        float[] buffer = new float[64];
        Assert.Throws<InvalidOperationException>(() =>
        {
            fixed (float* p = buffer)
            {
                CachedAttentionChunk chunk = Chunk(p, p + 4, p + 8, p + 24, 4, 5, 1, 4, decoding: true);
                CachedAttention.Forward(&chunk, 1, shape);
            }
        });
    }

    [Fact]
    public void RejectsAPromptChunkWhoseKeysDoNotFitTheRing()
    {
        // Window 4 and a chunk of 6 rows need 4 − 1 + 6 = 9 positions at once; the ring holds 8.
        AttentionShape shape = new(1, 4, 4, 1f);
        float[] buffer = new float[256];
        Assert.Throws<InvalidOperationException>(() =>
        {
            fixed (float* p = buffer)
            {
                CachedAttentionChunk chunk = Chunk(p, p + 128, p, p + 64, 4, 10, 6, 8, decoding: false);
                CachedAttention.Forward(&chunk, 1, shape);
            }
        });
    }

    [Theory]
    [InlineData(0, 0)]   // an empty chunk
    [InlineData(1, -1)]  // a negative position
    public void RejectsAnEmptyChunkOrANegativePosition(int count, int first)
    {
        AttentionShape shape = new(1, 4, 0, 1f);
        float[] buffer = new float[64];
        var error = Assert.Throws<ArgumentException>(() =>
        {
            fixed (float* p = buffer)
            {
                CachedAttentionChunk chunk = Chunk(p, p + 4, p + 8, p + 24, 4, first, count, 4, decoding: false);
                CachedAttention.Forward(&chunk, 1, shape);
            }
        });
        Assert.Contains("Chunk 0", error.Message);
    }

    /// <summary>The ring an inference session gives a layer for steps of up to <paramref name="chunkSize"/> rows.</summary>
    private static int SessionCapacity(int time, int window, int chunkSize) => window > 0 ? Math.Min(time, window + chunkSize - 1) : time;

    private static (float[] Qkv, float[] Expected) Problem(int time, AttentionShape shape)
    {
        int c = shape.Channels;
        Rng rng = new((ulong)(time * 31 + shape.Heads * 7 + shape.HeadDim + shape.Window));
        float[] qkv = TestArrays.Uniform(rng, time * 3 * c);
        float[] expected = new float[time * c], probabilities = new float[shape.Heads * time * time];
        ReferenceAttention.Forward(expected, probabilities, qkv, 1, time, shape);
        return (qkv, expected);
    }

    /// <summary>Runs one sequence through the cache in chunks of <paramref name="chunkSize"/> rows, as a session steps.</summary>
    private static float[] Run(float[] qkv, int time, AttentionShape shape, int chunkSize, int capacity, bool decoding)
    {
        int c = shape.Channels;
        float[] keys = new float[capacity * c], values = new float[capacity * c], output = new float[time * c];
        fixed (float* pq = qkv, pk = keys, pv = values, po = output)
        {
            for (int t0 = 0; t0 < time; t0 += chunkSize)
            {
                int count = Math.Min(chunkSize, time - t0);
                for (int t = t0; t < t0 + count; t++)
                {
                    StoreHeadMajor(qkv, t * 3 * c + c, keys, t % capacity, capacity, shape);
                    StoreHeadMajor(qkv, t * 3 * c + 2 * c, values, t % capacity, capacity, shape);
                }
                CachedAttentionChunk chunk = Chunk(pq + t0 * 3 * c, po + t0 * c, pk, pv, c, t0, count, capacity, decoding);
                CachedAttention.Forward(&chunk, 1, shape);
            }
        }
        return output;
    }

    /// <summary>C floats of one position (heads side by side) into ring row <paramref name="row"/> of every head: [heads, capacity, hd].</summary>
    private static void StoreHeadMajor(float[] source, int offset, float[] cache, int row, int capacity, AttentionShape shape)
    {
        for (int h = 0; h < shape.Heads; h++)
        {
            Array.Copy(source, offset + h * shape.HeadDim, cache, (h * capacity + row) * shape.HeadDim, shape.HeadDim);
        }
    }

    private static CachedAttentionChunk Chunk(float* qkvRow, float* outputRow, float* keys, float* values, int c, int first, int count, int capacity, bool decoding) => new()
    {
        Query = qkvRow,
        QueryStride = 3 * c,
        Output = outputRow,
        OutputStride = c,
        Keys = keys,
        Values = values,
        FirstPosition = first,
        Count = count,
        Capacity = capacity,
        Decoding = decoding,
    };
}
