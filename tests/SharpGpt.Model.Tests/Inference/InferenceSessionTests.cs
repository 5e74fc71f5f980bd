using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Inference;

public class InferenceSessionTests
{
    /// <summary>
    /// The cached path and the full-sequence path do the same arithmetic per row, except that the GEMM
    /// (packed vs skinny) may sum in a different order: a few ulps on O(1) logits.
    /// </summary>
    private const double PathTolerance = 2e-5;

    internal static GptModel RandomModel(ModelFamily family, int window = 4, int context = 40, ulong seed = 3, float standardDeviation = 0.3f)
    {
        GptConfig config = family == ModelFamily.Gpt2
            ? new GptConfig { Family = family, VocabSize = 61, ContextLength = context, EmbeddingSize = 24, LayerCount = 3, HeadCount = 3, FeedForwardSize = 48, EndOfTextTokenId = 60 }
            : new GptConfig
            {
                Family = family, VocabSize = 61, ContextLength = context, EmbeddingSize = 24, LayerCount = 3, HeadCount = 3, FeedForwardSize = 48, EndOfTextTokenId = 60,
                AttentionLayers = [AttentionKind.Local, AttentionKind.Global, AttentionKind.Local], WindowSize = window, ScaleAttention = false, QkvBias = false,
            };
        var model = new GptModel(config);
        // By default larger-than-usual weights, so that attention patterns are far from uniform and mistakes show.
        model.InitializeGpt2(new Rng(seed), standardDeviation);
        return model;
    }

    private static float[][] FullLogits(GptModel model, int[] tokens)
    {
        using TrainingGraph graph = new(model, 1, tokens.Length);
        graph.ForwardLogits(tokens, 1, tokens.Length);
        return Enumerable.Range(0, tokens.Length).Select(t => graph.Logits(t).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2, 1)]
    [InlineData(ModelFamily.Gpt2, 7)]
    [InlineData(ModelFamily.GptNeo, 1)]
    [InlineData(ModelFamily.GptNeo, 3)]
    [InlineData(ModelFamily.GptNeo, 16)]
    public void ChunkedPrefillAndDecodingMatchTheFullForwardPass(ModelFamily family, int chunk)
    {
        using GptModel model = RandomModel(family);
        int[] tokens = TestArrays.Integers(new Rng(17), 37, 61);
        float[][] expected = FullLogits(model, tokens);
        using InferenceSession session = new(model, slots: 1, maxTokensPerStep: chunk);
        for (int start = 0; start < tokens.Length; start += chunk)
        {
            int length = Math.Min(chunk, tokens.Length - start);
            session.Step([new SequenceChunk(0, tokens.AsMemory(start, length), LogitsRequest.All)]);
            for (int i = 0; i < length; i++)
            {
                NumericAssert.Close(expected[start + i], session.Logits(i).ToArray(), PathTolerance, 0, $"position {start + i}");
            }
        }
        Assert.Equal(37, session.Length(0));
    }

    [Fact]
    public void SlotsInOneBatchDoNotInfluenceEachOther()
    {
        using GptModel model = RandomModel(ModelFamily.GptNeo);
        Rng rng = new(4);
        int[][] sequences = [TestArrays.Integers(rng, 20, 61), TestArrays.Integers(rng, 9, 61), TestArrays.Integers(rng, 31, 61)];
        float[][][] expected = sequences.Select(s => FullLogits(model, s)).ToArray();
        using InferenceSession session = new(model, slots: 3, maxTokensPerStep: 8);
        int[] done = new int[3];
        // Interleave: each step gives every unfinished sequence 1–4 more tokens.
        while (done.Where((d, i) => d < sequences[i].Length).Any())
        {
            var chunks = new List<SequenceChunk>();
            var starts = new List<(int Slot, int Start, int Length)>();
            int budget = 8;
            for (int s = 0; s < 3; s++)
            {
                int length = Math.Min(Math.Min(1 + (done[s] + s) % 4, sequences[s].Length - done[s]), budget);
                if (length <= 0)
                {
                    continue;
                }
                chunks.Add(new SequenceChunk(s, sequences[s].AsMemory(done[s], length), LogitsRequest.All));
                starts.Add((s, done[s], length));
                budget -= length;
            }
            session.Step(chunks.ToArray());
            for (int c = 0; c < chunks.Count; c++)
            {
                (int slot, int start, int length) = starts[c];
                for (int i = 0; i < length; i++)
                {
                    NumericAssert.Close(expected[slot][start + i], session.Logits(session.FirstLogitRow(c) + i).ToArray(), PathTolerance, 0, $"slot {slot} position {start + i}");
                }
                done[slot] += length;
            }
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData(QuantizationKind.Int8)]
    [InlineData(QuantizationKind.Int4)]
    [InlineData(QuantizationKind.BFloat16)]
    public void PromptAndDecodingRowsAreBitwiseIndependentOfBatchingAndChunking(QuantizationKind? quantization)
    {
        // Prompt rows use the packed GEMM (quantized weights dequantized as they are packed) and decoding rows the
        // weight-streaming kernels; each must give exactly the same bits whatever else shares the step and however
        // the prompt is chunked (the server relies on it).
        using GptModel model = RandomModel(ModelFamily.GptNeo, window: 6);
        if (quantization is { } kind)
        {
            model.Quantize(kind);
        }
        // 20 prompt rows alone, then 5- and 17-row steps: a path chosen by row count (the skinny GEMM up to 16
        // rows) would compute the same prompt rows differently and fail this test.
        int[] prompt = TestArrays.Integers(new Rng(5), 20, 61);
        int[] other = TestArrays.Integers(new Rng(6), 7, 61);

        using InferenceSession alone = new(model, slots: 2, maxTokensPerStep: 24);
        alone.Step([new SequenceChunk(0, prompt, LogitsRequest.All)]);
        float[][] expectedPrompt = Enumerable.Range(0, prompt.Length).Select(t => alone.Logits(t).ToArray()).ToArray();
        alone.Step([new SequenceChunk(0, new[] { 7 }, LogitsRequest.Last, Decoding: true)]);
        float[] expectedDecode = alone.Logits(0).ToArray();

        using InferenceSession batched = new(model, slots: 2, maxTokensPerStep: 24);
        batched.Step([new SequenceChunk(1, other, LogitsRequest.Last)]);
        var actualPrompt = new List<float[]>();
        batched.Step([new SequenceChunk(1, new[] { 3 }, LogitsRequest.Last, Decoding: true), new SequenceChunk(0, prompt.AsMemory(0, 4), LogitsRequest.All)]);
        actualPrompt.AddRange(Enumerable.Range(0, 4).Select(t => batched.Logits(batched.FirstLogitRow(1) + t).ToArray()));
        batched.Step([new SequenceChunk(0, prompt.AsMemory(4), LogitsRequest.All), new SequenceChunk(1, new[] { 9 }, LogitsRequest.Last, Decoding: true)]);
        actualPrompt.AddRange(Enumerable.Range(0, prompt.Length - 4).Select(t => batched.Logits(batched.FirstLogitRow(0) + t).ToArray()));
        batched.Step([new SequenceChunk(1, new[] { 2 }, LogitsRequest.Last, Decoding: true), new SequenceChunk(0, new[] { 7 }, LogitsRequest.Last, Decoding: true)]);

        for (int t = 0; t < prompt.Length; t++)
        {
            Assert.Equal(expectedPrompt[t], actualPrompt[t]);
        }
        Assert.Equal(expectedDecode, batched.Logits(batched.FirstLogitRow(1)).ToArray());
    }

    [Fact]
    public void LocalLayersKeepABoundedRingAcrossLongSequences()
    {
        using GptModel model = RandomModel(ModelFamily.GptNeo, window: 4, context: 200);
        using InferenceSession session = new(model, slots: 1, maxTokensPerStep: 3);
        // Local layers: window 4 + 3 − 1 = 6 rows; the dense layer keeps all 200.
        Assert.Equal([6, 200, 6], session.Cache.Capacities);
        int[] tokens = TestArrays.Integers(new Rng(8), 150, 61);
        float[][] expected = FullLogits(model, tokens);
        foreach (int t in Enumerable.Range(0, tokens.Length))
        {
            session.Step([new SequenceChunk(0, tokens.AsMemory(t, 1), LogitsRequest.Last)]);
            NumericAssert.Close(expected[t], session.Logits(0).ToArray(), PathTolerance, 0, $"position {t}");
        }
    }

    [Fact]
    public void CopySlotAndTruncateReuseAPrefix()
    {
        using GptModel model = RandomModel(ModelFamily.GptNeo, window: 6);
        int[] prefix = TestArrays.Integers(new Rng(1), 12, 61);
        int[] a = [.. prefix, 5, 9], b = [.. prefix, 33];
        using InferenceSession session = new(model, slots: 2, maxTokensPerStep: 16);
        session.Step([new SequenceChunk(0, prefix, LogitsRequest.None)]);
        session.CopySlot(0, 1);
        session.Step([new SequenceChunk(0, new[] { 5, 9 }, LogitsRequest.All), new SequenceChunk(1, new[] { 33 }, LogitsRequest.Last)]);
        NumericAssert.Close(FullLogits(model, a)[13], session.Logits(1).ToArray(), PathTolerance, 0, "continuation a");
        NumericAssert.Close(FullLogits(model, b)[12], session.Logits(2).ToArray(), PathTolerance, 0, "continuation b");
        session.Truncate(0, 12);
        session.Step([new SequenceChunk(0, new[] { 33 }, LogitsRequest.Last)]);
        NumericAssert.Close(FullLogits(model, b)[12], session.Logits(0).ToArray(), PathTolerance, 0, "after truncation");
    }

    [Theory]
    [InlineData(5)] // shorter than the local ring (window 6 + 4 − 1 = 9 rows): only the used rows are copied
    [InlineData(40)] // the ring has wrapped: all of it is copied
    public void CopySlotOverwritesAStaleLongerSequence(int prefixLength)
    {
        using GptModel model = RandomModel(ModelFamily.GptNeo, window: 6, context: 64);
        int[] prefix = TestArrays.Integers(new Rng(2), prefixLength, 61);
        int[] stale = TestArrays.Integers(new Rng(3), 60, 61);
        using InferenceSession session = new(model, slots: 2, maxTokensPerStep: 4);
        for (int start = 0; start < stale.Length; start += 4)
        {
            session.Step([new SequenceChunk(1, stale.AsMemory(start, 4), LogitsRequest.None)]);
        }
        for (int start = 0; start < prefix.Length; start += 4)
        {
            session.Step([new SequenceChunk(0, prefix.AsMemory(start, Math.Min(4, prefix.Length - start)), LogitsRequest.None)]);
        }
        session.CopySlot(0, 1);
        Assert.Equal(prefixLength, session.Length(1));
        session.Step([new SequenceChunk(1, new[] { 7, 8 }, LogitsRequest.All)]);
        NumericAssert.Close(FullLogits(model, [.. prefix, 7, 8])[prefixLength + 1], session.Logits(1).ToArray(), PathTolerance, 0, "after the copy");
    }

    [Fact]
    public void InvalidStepsAreRejected()
    {
        using GptModel model = RandomModel(ModelFamily.Gpt2, context: 10);
        using InferenceSession session = new(model, slots: 2, maxTokensPerStep: 8);
        Assert.Throws<SharpGptException>(() => session.Step([new SequenceChunk(0, new[] { 61 })]));
        Assert.Throws<ArgumentException>(() => session.Step([new SequenceChunk(0, new int[9])]));
        Assert.Throws<ArgumentException>(() => session.Step([new SequenceChunk(1, new[] { 1 }), new SequenceChunk(1, new[] { 2 })]));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Step([new SequenceChunk(2, new[] { 1 })]));
        session.Step([new SequenceChunk(0, new int[8])]);
        Assert.Contains("beyond the context", Assert.Throws<SharpGptException>(() => session.Step([new SequenceChunk(0, new int[3])])).Message);
        Assert.Equal(8, session.Length(0));
    }
}
