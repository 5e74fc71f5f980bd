using SharpGpt.Inference.Scoring;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Inference.Tests.Scoring;

public class TokenScorerTests
{
    /// <summary>Log-softmax of the same logits from two code paths (see InferenceSessionTests): a few ulps of logits ≈ 1e-5.</summary>
    private const double Tolerance = 2e-5;

    [Fact]
    public void SequenceScoresMatchTheTrainingForwardPass()
    {
        using LanguageModel model = LanguageModel.Load(TestData.Path("models", "tiny-random-gpt2"));
        int[] tokens = [0, 0, 195, 731, 731, 114, 5, 999, 42];
        using var session = new InferenceSession(model.Model, slots: 1, maxTokensPerStep: 4);
        double?[] scores = TokenScorer.ScoreSequence(session, 0, tokens);
        Assert.Null(scores[0]);
        using var graph = new TrainingGraph(model.Model, 1, tokens.Length);
        graph.ForwardLogits(tokens, 1, tokens.Length);
        for (int i = 1; i < tokens.Length; i++)
        {
            ReadOnlySpan<float> logits = graph.Logits(i - 1);
            double expected = logits[tokens[i]] - SoftmaxCrossEntropy.LogSumExp(logits);
            NumericAssert.RelativelyClose(expected, scores[i]!.Value, Tolerance, 1, $"token {i}");
        }
    }

    [Fact]
    public void ScoringAContinuationOverACachedContextEqualsScoringTheWhole()
    {
        using LanguageModel model = LanguageModel.Load(TestData.Path("fixtures", "tiny-gptneo"));
        int[] context = [5, 17, 300, 42, 8, 99], continuation = [7, 7, 400];
        int[] whole = [.. context, .. continuation];
        using var session = new InferenceSession(model.Model, slots: 2, maxTokensPerStep: 8);
        double?[] full = TokenScorer.ScoreSequence(session, 0, whole);
        // Cache the context minus its last token once, then feed [last context token, continuation...].
        session.Reset(1);
        session.Step([new SequenceChunk(1, context.AsMemory(0, context.Length - 1), LogitsRequest.None)]);
        int[] inputs = [context[^1], .. continuation[..^1]];
        TokenScore[] scores = TokenScorer.ScoreNext(session, 1, inputs, continuation);
        for (int i = 0; i < continuation.Length; i++)
        {
            NumericAssert.RelativelyClose(full[context.Length + i]!.Value, scores[i].Logprob, Tolerance, 1, $"continuation token {i}");
        }
    }
}
