using SharpGpt.Model.Tests.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Training;

public class TrainingGraphTests
{
    [Theory]
    [InlineData(ModelFamily.Gpt2)]
    [InlineData(ModelFamily.GptNeo)]
    public void WholeModelGradientMatchesFiniteDifferences(ModelFamily family)
    {
        // Weights of std 0.1: large enough that every term matters, small enough that GPT-Neo's unscaled
        // attention scores do not saturate the softmax (where curvature would swamp a finite difference).
        using GptModel model = InferenceSessionTests.RandomModel(family, window: 3, context: 12, standardDeviation: 0.1f);
        const int batch = 2, time = 7;
        Rng rng = new(6);
        int[] tokens = TestArrays.Integers(rng, batch * time, 61);
        int[] targets = TestArrays.Integers(rng, batch * time, 61);
        targets[3] = -1;
        using TrainingGraph graph = new(model, batch, time);
        graph.ZeroGradients();
        graph.ForwardBackward(tokens, targets, batch, time);
        float[] parameters = model.Parameters.Span.ToArray();
        float[] gradient = graph.Gradients.Span.ToArray();
        double Loss()
        {
            parameters.CopyTo(model.Parameters.Span);
            return graph.Forward(tokens, targets, batch, time);
        }
        // ~5,000 parameters move at once, so a 1e-3 step keeps the perturbation's norm (≈0.04) in the linear regime;
        // the loss (≈4) in fp32 is exact to ~1e-6, i.e. ~1e-3 on the numeric derivative (≈10), inside the tolerance.
        FiniteDifference.Check(parameters, gradient, Loss, $"{family} all parameters", directions: 4, coordinates: 10, step: 1e-3f);
    }

    [Fact]
    public void AccumulatingMicroBatchesEqualsOneBigBatch()
    {
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.Gpt2);
        const int time = 6;
        Rng rng = new(2);
        int[] tokens = TestArrays.Integers(rng, 4 * time, 61), targets = TestArrays.Integers(rng, 4 * time, 61);
        using TrainingGraph big = new(model, 4, time), small = new(model, 2, time);
        big.ZeroGradients();
        float bigLoss = big.ForwardBackward(tokens, targets, 4, time);
        small.ZeroGradients();
        float accumulated = 0;
        for (int micro = 0; micro < 2; micro++)
        {
            accumulated += small.ForwardBackward(tokens.AsSpan(micro * 2 * time, 2 * time), targets.AsSpan(micro * 2 * time, 2 * time), 2, time,
                lossWeight: 1f / (4 * time)) / 2;
        }
        Assert.Equal(bigLoss, accumulated, 5);
        // Same products summed in a different grouping: a few ulps of the gradient scale.
        NumericAssert.CloseRelativeToScale(big.Gradients.Span.ToArray(), small.Gradients.Span.ToArray(), 1e-5, "accumulated gradients");
    }

    [Fact]
    public void HeadChunksGiveTheSameLossAndGradientsAsOneChunk()
    {
        // 3×100 = 300 rows run the lm_head in two chunks (256 + 44); three 100-row micro-batches run it in one each.
        const int time = 100, batch = 3;
        Assert.True(batch * time > TrainingGraph.HeadChunkRows && time < TrainingGraph.HeadChunkRows);
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.GptNeo, window: 16, context: time);
        Rng rng = new(9);
        int[] tokens = TestArrays.Integers(rng, batch * time, 61), targets = TestArrays.Integers(rng, batch * time, 61);
        targets[257] = SoftmaxCrossEntropy.IgnoreTarget;
        int counted = targets.Count(t => t >= 0);
        using TrainingGraph whole = new(model, batch, time), single = new(model, 1, time);
        whole.ZeroGradients();
        float wholeLoss = whole.ForwardBackward(tokens, targets, batch, time);
        Assert.Equal(wholeLoss, whole.Forward(tokens, targets, batch, time), 6);
        single.ZeroGradients();
        double summed = 0;
        for (int b = 0; b < batch; b++)
        {
            summed += single.ForwardBackward(tokens.AsSpan(b * time, time), targets.AsSpan(b * time, time), 1, time, 1f / counted) * single.CountedTargets;
        }
        Assert.Equal(wholeLoss, summed / counted, 5);
        // Same products summed in a different grouping: a few ulps of the gradient scale.
        NumericAssert.CloseRelativeToScale(whole.Gradients.Span.ToArray(), single.Gradients.Span.ToArray(), 1e-5, "chunked head gradients");
    }

    [Fact]
    public void IgnoredTargetsCarryNoLossOrGradient()
    {
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.Gpt2);
        int[] tokens = [1, 2, 3, 4], targets = [-1, -1, -1, -1];
        using TrainingGraph graph = new(model, 1, 4);
        graph.ZeroGradients();
        Assert.Equal(0f, graph.ForwardBackward(tokens, targets, 1, 4));
        Assert.Equal(0, graph.CountedTargets);
        Assert.All(graph.Gradients.Span.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void RejectsBadInput()
    {
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.Gpt2);
        using TrainingGraph graph = new(model, 2, 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => graph.Forward(new int[18], new int[18], 3, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => graph.Forward([1, 2, 99, 4, 5], new int[5], 1, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => graph.Forward([1, 2, 3, 4, 5], [1, 2, 3, 4, 61], 1, 5));
        Assert.Throws<InvalidOperationException>(() => graph.Logits(0));
        Assert.Throws<SharpGptException>(() => new TrainingGraph(model, 1, 41));
    }
}

public class TrainingGraphPlanningTests
{
    [Fact]
    public void ActivationEstimateMatchesWhatIsAllocated()
    {
        using GptModel model = Inference.InferenceSessionTests.RandomModel(ModelFamily.GptNeo);
        using var graph = new TrainingGraph(model, 3, 17);
        long estimate = TrainingGraph.ActivationBytesFor(model.Config, 3, 17);
        // The allocation pads every buffer to 64 bytes; the estimate does not.
        Assert.InRange(graph.ActivationBytes - estimate, 0, 64 * 200);
    }
}
