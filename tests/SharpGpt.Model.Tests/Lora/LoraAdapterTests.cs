using SharpGpt.Model.Lora;
using SharpGpt.Model.Tests.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Lora;

public sealed class LoraAdapterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-lora").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const int Batch = 2, Time = 6;

    private static (int[] Tokens, int[] Targets) Batch_()
    {
        Rng rng = new(3);
        return (TestArrays.Integers(rng, Batch * Time, 61), TestArrays.Integers(rng, Batch * Time, 61));
    }

    private static float[] Logits(TrainingGraph graph, int[] tokens)
    {
        graph.ForwardLogits(tokens, Batch, Time);
        return Enumerable.Range(0, Batch * Time).SelectMany(r => graph.Logits(r).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2)]
    [InlineData(ModelFamily.GptNeo)]
    public void AdapterWithZeroBLeavesOutputsUnchanged(ModelFamily family)
    {
        using GptModel model = InferenceSessionTests.RandomModel(family, standardDeviation: 0.1f);
        using var adapter = new LoraAdapter(model.Config, new LoraSettings { Rank = 4, Alpha = 8 });
        adapter.Initialize(new Rng(1));
        Assert.Contains(adapter.Parameters.Span.ToArray(), v => v != 0); // A is random…
        using var plain = new TrainingGraph(model, Batch, Time);
        using var adapted = new TrainingGraph(model, Batch, Time);
        adapted.AttachLora(adapter);
        var (tokens, _) = Batch_();
        // …but B = 0, so the adapter adds exactly nothing.
        Assert.Equal(Logits(plain, tokens), Logits(adapted, tokens));
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2)]
    [InlineData(ModelFamily.GptNeo)]
    public void AdapterGradientsMatchFiniteDifferencesAndTheBaseStaysFrozen(ModelFamily family)
    {
        using GptModel model = InferenceSessionTests.RandomModel(family, standardDeviation: 0.1f);
        using var adapter = new LoraAdapter(model.Config, new LoraSettings { Rank = 3, Alpha = 6 });
        adapter.Initialize(new Rng(2));
        // A non-zero B, so that A's gradient is non-zero too.
        Rng rng = new(5);
        foreach (ParameterTensor b in adapter.Tensors.Where(t => t.Name.EndsWith("lora_B", StringComparison.Ordinal)))
        {
            TestArrays.Uniform(rng, (int)b.Length, 0.2f).CopyTo(adapter.Parameters.Slice(b.Offset, (int)b.Length));
        }
        using var graph = new TrainingGraph(model, Batch, Time);
        graph.AttachLora(adapter);
        var (tokens, targets) = Batch_();
        graph.ZeroGradients();
        graph.ForwardBackward(tokens, targets, Batch, Time);
        Assert.All(graph.Gradients.Span.ToArray(), g => Assert.Equal(0f, g));
        float[] parameters = adapter.Parameters.Span.ToArray();
        float[] gradient = graph.LoraGradients!.Span.ToArray();
        double Loss()
        {
            parameters.CopyTo(adapter.Parameters.Span);
            return graph.Forward(tokens, targets, Batch, Time);
        }
        // As for the whole-model check: many parameters move at once, so a 1e-3 step.
        FiniteDifference.Check(parameters, gradient, Loss, $"{family} LoRA", directions: 4, coordinates: 8, step: 1e-3f);
    }

    [Fact]
    public void MergingGivesTheSameLogitsAsTheAttachedAdapterAndSurvivesSaveAndLoad()
    {
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.GptNeo, standardDeviation: 0.1f);
        using var adapter = new LoraAdapter(model.Config, new LoraSettings { Rank = 2, Alpha = 4, Targets = [LoraTarget.Qkv, LoraTarget.MlpDown] });
        adapter.Initialize(new Rng(7));
        TestArrays.Uniform(new Rng(8), (int)adapter.TotalFloats, 0.3f).CopyTo(adapter.Parameters.Span);
        var (tokens, _) = Batch_();
        float[] attached;
        using (var graph = new TrainingGraph(model, Batch, Time))
        {
            graph.AttachLora(adapter);
            attached = Logits(graph, tokens);
        }
        adapter.Save(_dir, "base-model-folder");
        using LoraAdapter loaded = LoraAdapter.Load(_dir);
        Assert.Equal(adapter.Parameters.Span.ToArray(), loaded.Parameters.Span.ToArray());
        Assert.Equal("base-model-folder", LoraAdapter.BaseModelOf(_dir));
        loaded.MergeInto(model);
        using var merged = new TrainingGraph(model, Batch, Time);
        // W·x + s·B·(A·x) versus (W + s·B·A)·x: same sum in another order, a few ulps of the logits.
        NumericAssert.CloseRelativeToScale(attached, Logits(merged, tokens), 1e-5, "merged logits");
    }

    [Fact]
    public void AdaptersForAnotherModelAreRejected()
    {
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.Gpt2);
        using var adapter = new LoraAdapter(model.Config with { EmbeddingSize = 48, HeadCount = 4 }, new LoraSettings());
        Assert.Throws<SharpGptException>(() => adapter.MergeInto(model));
        Assert.Throws<SharpGptException>(() => new LoraSettings { Rank = 0 }.Validate());
    }
}
