using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Parity;

/// <summary>
/// The whole model against PyTorch: logits, loss, every parameter gradient, greedy decoding through the
/// KV cache, and the loss after one AdamW step, for GPT-2 and GPT-Neo (with a local layer).
/// </summary>
[Collection(SerialCollection.Name)]
public class FixtureParityTests
{
    public static TheoryData<string> Fixtures() => new() { "tiny-gpt2", "tiny-gptneo" };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LogitsAndLossMatchPyTorch(string name)
    {
        Fixture fixture = new(name);
        using GptModel model = fixture.LoadModel();
        using TrainingGraph graph = new(model, fixture.Batch, fixture.Time);
        graph.ForwardLogits(fixture.FlatInputs, fixture.Batch, fixture.Time);
        CompareLogits(fixture, graph);
        float loss = graph.Forward(fixture.FlatInputs, fixture.ShiftedTargets, fixture.Batch, fixture.Time);
        Assert.InRange(loss, fixture.Expected.GetProperty("loss").GetDouble() - fixture.LossTolerance,
            fixture.Expected.GetProperty("loss").GetDouble() + fixture.LossTolerance);
    }

    /// <summary>Every logit of every position against the full tensor in expected.safetensors.</summary>
    internal static void CompareLogits(Fixture fixture, TrainingGraph graph)
    {
        int v = graph.Model.Config.VocabSize;
        using SafetensorsFile file = SafetensorsFile.Open(System.IO.Path.Combine(fixture.Directory, "expected.safetensors"));
        SafetensorsEntry entry = file.Entry("logits");
        Assert.Equal([fixture.Batch, fixture.Time, (long)v], entry.Shape);
        float[] expected = new float[entry.ElementCount];
        file.ReadFloat32(entry, expected);
        float[] actual = new float[expected.Length];
        for (int row = 0; row < fixture.Batch * fixture.Time; row++)
        {
            graph.Logits(row).CopyTo(actual.AsSpan(row * v, v));
        }
        NumericAssert.Close(expected, actual, fixture.LogitsTolerance, 0, $"{fixture.Directory} logits");
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EveryGradientMatchesPyTorch(string name)
    {
        Fixture fixture = new(name);
        using GptModel model = fixture.LoadModel();
        using TrainingGraph graph = new(model, fixture.Batch, fixture.Time);
        graph.ZeroGradients();
        graph.ForwardBackward(fixture.FlatInputs, fixture.ShiftedTargets, fixture.Batch, fixture.Time);
        using SafetensorsFile expected = SafetensorsFile.Open(System.IO.Path.Combine(fixture.Directory, "expected.safetensors"));
        var norms = fixture.Expected.GetProperty("grad_norms");
        int checkedParts = 0;
        foreach (HfMapping mapping in HfWeightMap.For(model.Layout))
        {
            Span<float> ours = graph.Gradients.Slice(mapping.Tensor.Offset, (int)mapping.Tensor.Length);
            foreach (HfPart part in mapping.Parts)
            {
                float[] theirs = fixture.ExpectedGradient(expected, part.Name);
                float[] mine = ToHuggingFaceLayout(ours.Slice((int)part.Offset, (int)part.ElementCount), part);
                // Per element: the fixture's relative tolerance applied to the tensor's largest gradient.
                NumericAssert.CloseRelativeToScale(theirs, mine, fixture.GradNormTolerance, $"{name} grad {part.Name}");
                checkedParts++;
            }
            if (mapping.Parts.Count == 1 && norms.TryGetProperty(mapping.Parts[0].Name, out var norm))
            {
                double ourNorm = Math.Sqrt(ours.ToArray().Sum(g => (double)g * g));
                NumericAssert.RelativelyClose(norm.GetDouble(), ourNorm, fixture.GradNormTolerance, what: $"{name} |grad {mapping.Parts[0].Name}|");
            }
        }
        Assert.Equal(expected.Tensors.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)), checkedParts);
    }

    private static float[] ToHuggingFaceLayout(ReadOnlySpan<float> values, HfPart part)
    {
        if (!part.Transpose)
        {
            return values.ToArray();
        }
        int rows = (int)part.Shape[0], cols = (int)part.Shape[1];
        float[] result = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                result[r * cols + c] = values[c * rows + r];
            }
        }
        return result;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void GreedyDecodingWithTheKvCacheMatchesPyTorch(string name)
    {
        Fixture fixture = new(name);
        var greedy = fixture.Expected.GetProperty("greedy");
        int[] prompt = greedy.GetProperty("prompt").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        int[] expected = greedy.GetProperty("new_tokens").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        using GptModel model = fixture.LoadModel();
        // maxTokensPerStep 3 forces a chunked prefill, and on GPT-Neo a ring of window + 2 positions that wraps.
        using InferenceSession session = new(model, slots: 2, maxTokensPerStep: 3);
        var generated = new List<int>();
        int[] pending = prompt;
        while (generated.Count < expected.Length)
        {
            int take = Math.Min(pending.Length, session.MaxTokensPerStep);
            session.Step([new SequenceChunk(1, pending.AsMemory(0, take), LogitsRequest.Last)]);
            pending = pending[take..];
            if (pending.Length == 0)
            {
                int next = ArgMax(session.Logits(0));
                generated.Add(next);
                pending = [next];
            }
        }
        Assert.Equal(expected, generated);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LossAfterOneAdamWStepMatchesPyTorch(string name)
    {
        Fixture fixture = new(name);
        var hyper = fixture.Expected.GetProperty("adamw_one_step").GetProperty("hyper");
        using GptModel model = fixture.LoadModel();
        using TrainingGraph graph = new(model, fixture.Batch, fixture.Time);
        graph.ZeroGradients();
        graph.ForwardBackward(fixture.FlatInputs, fixture.ShiftedTargets, fixture.Batch, fixture.Time);
        using var m = new SharpGpt.Tensors.Memory.NativeBuffer(model.Layout.TotalFloats);
        using var v = new SharpGpt.Tensors.Memory.NativeBuffer(model.Layout.TotalFloats);
        unsafe
        {
            // torch.optim.AdamW defaults: one parameter group, so decay applies to every tensor.
            AdamW.Update(model.Parameters.Pointer, graph.Gradients.Pointer, m.Pointer, v.Pointer, model.Layout.TotalFloats,
                new AdamWStep(hyper.GetProperty("lr").GetSingle(), hyper.GetProperty("beta1").GetSingle(), hyper.GetProperty("beta2").GetSingle(),
                    hyper.GetProperty("eps").GetSingle(), hyper.GetProperty("weight_decay").GetSingle(), 1));
        }
        float after = graph.Forward(fixture.FlatInputs, fixture.ShiftedTargets, fixture.Batch, fixture.Time);
        double expected = fixture.Expected.GetProperty("adamw_one_step").GetProperty("loss_after").GetDouble();
        // One lr = 0.01 step moves every weight by ~0.01 (Adam's first step is lr·sign(g)); tiny gradient
        // differences can flip a sign only where |g| ≈ 0, so the loss agrees to the fixture's loss tolerance × 10.
        Assert.InRange(after, expected - 10 * fixture.LossTolerance, expected + 10 * fixture.LossTolerance);
    }

    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }
        return best;
    }
}
