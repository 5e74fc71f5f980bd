using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Inference;

public class QuantizedModelTests
{
    /// <summary>C = 128: a block's qkv matrix is 192 KiB, whole pages that can go back to the operating system.</summary>
    private static GptModel Model()
    {
        var model = new GptModel(new GptConfig
        {
            Family = ModelFamily.Gpt2, VocabSize = 97, ContextLength = 32, EmbeddingSize = 128, LayerCount = 2, HeadCount = 4,
            FeedForwardSize = 512, EndOfTextTokenId = 96,
        });
        model.InitializeGpt2(new Rng(5));
        return model;
    }

    /// <summary>Logits of a prompt (every position) and of three greedy decoding steps.</summary>
    internal static float[][] Logits(GptModel model, int[] prompt)
    {
        using InferenceSession session = new(model, slots: 1, maxTokensPerStep: prompt.Length);
        var rows = new List<float[]>();
        session.Step([new SequenceChunk(0, prompt, LogitsRequest.All)]);
        rows.AddRange(Enumerable.Range(0, prompt.Length).Select(i => session.Logits(i).ToArray()));
        for (int step = 0; step < 3; step++)
        {
            float[] last = rows[^1];
            int next = Array.IndexOf(last, last.Max());
            session.Step([new SequenceChunk(0, new[] { next }, LogitsRequest.Last, Decoding: true)]);
            rows.Add(session.Logits(0).ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>
    /// Quantized logits against fp32 ones, relative to the largest fp32 logit. Every weight and every activation
    /// entering a matmul moves by up to half a step (1/254 of its group's largest value at 8 bits, 1/14 at 4 bits);
    /// the errors are independent and mostly cancel over K = 128 and two blocks. Measured on this model: int8 0.75 %,
    /// q4 7.6 %; the bounds leave 3–4× margin.
    /// </summary>
    private const double Int8LogitTolerance = 0.03, Int4LogitTolerance = 0.25;

    /// <summary>bf16 moves only the weights, each by at most 2⁻⁸ of itself (activations stay fp32). Measured on this model: 0.15 %; 1 % leaves 6× margin.</summary>
    private const double BFloat16LogitTolerance = 0.01;

    [Theory]
    [InlineData(QuantizationKind.Int8)]
    [InlineData(QuantizationKind.Int4)]
    [InlineData(QuantizationKind.BFloat16)]
    public void QuantizedLogitsStayCloseToTheFloatOnes(QuantizationKind kind)
    {
        int[] prompt = TestArrays.Integers(new Rng(9), 11, 97);
        using GptModel model = Model();
        float[][] fp32 = Logits(model, prompt);
        model.Quantize(kind, keepFloatWeights: false);
        float[][] quantized = Logits(model, prompt);
        double scale = fp32.SelectMany(row => row).Max(Math.Abs);
        double worst = fp32.Zip(quantized).SelectMany(pair => pair.First.Zip(pair.Second, (a, b) => Math.Abs(a - b))).Max();
        Assert.InRange(worst / scale, 0, kind switch
        {
            QuantizationKind.Int8 => Int8LogitTolerance,
            QuantizationKind.Int4 => Int4LogitTolerance,
            _ => BFloat16LogitTolerance,
        });
        Assert.NotEqual(fp32[0], quantized[0]);
    }

    [Fact]
    public void ReleasingTheFloatMatricesKeepsEveryQuantizedLogitAndRefusesWhatNeedsThem()
    {
        int[] prompt = TestArrays.Integers(new Rng(9), 11, 97);
        using GptModel kept = Model();
        kept.Quantize(QuantizationKind.Int8);
        using GptModel released = Model();
        released.Quantize(QuantizationKind.Int8, keepFloatWeights: false);

        Assert.False(kept.FloatMatricesReleased);
        Assert.True(released.FloatMatricesReleased);
        float[][] expected = Logits(kept, prompt), actual = Logits(released, prompt);
        Assert.Equal(expected.Length, actual.Length);
        for (int row = 0; row < expected.Length; row++)
        {
            Assert.Equal(expected[row], actual[row]);
        }
        if (OperatingSystem.IsLinux())
        {
            // The pages went back: the middle of the first qkv matrix now reads as zeros (it held weights before).
            long middle = released.Layout.Layers[0].QkvWeight + 4096;
            Assert.All(released.Parameters.Slice(middle, 1024).ToArray(), value => Assert.Equal(0f, value));
            Assert.Contains(kept.Parameters.Slice(middle, 1024).ToArray(), value => value != 0);
        }

        string directory = Path.Combine(Path.GetTempPath(), $"sharpgpt-released-{Guid.NewGuid():N}");
        Assert.Contains("fp32 weights were released", Assert.Throws<SharpGptException>(() => released.Quantize(QuantizationKind.Int4)).Message);
        Assert.Throws<SharpGptException>(() => new TrainingGraph(released, 1, 4));
        Assert.Throws<SharpGptException>(() => HfModelSaver.Save(released, directory));
        Assert.False(Directory.Exists(directory));
    }
}
