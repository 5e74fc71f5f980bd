using SharpGpt.Evaluation.Scoring;
using SharpGpt.Evaluation.Tasks;
using SharpGpt.Inference;
using SharpGpt.Inference.Scoring;
using SharpGpt.Model;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Tokenization;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using SharpGpt.Training;
using SharpGpt.Training.Data;
using Xunit;

namespace SharpGpt.Evaluation.Tests.Scoring;

public sealed class ScoringTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-eval").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>
    /// Shared-prefix scoring and straight scoring run the same rows through different batch shapes (skinny vs
    /// packed GEMM), so per-token log-probabilities differ by float rounding; summed over ≤ 10 tokens, 1e-4.
    /// </summary>
    private const double PathTolerance = 1e-4;

    [Fact]
    public void ChoiceScoresAgreeWithTheScoreCommandOnTinyRandomGpt2()
    {
        using LanguageModel model = LanguageModel.Load(TestData.Path("models", "tiny-random-gpt2"));
        int[] context = [0, 0, 195, 731, 5, 77];
        int[][] continuations = [[114], [114, 9, 300], [998, 3]];
        using var session = new InferenceSession(model.Model, slots: 4);
        ChoiceScore[] scores = new LoglikelihoodScorer(session, model.Tokenizer).ScoreTokens(context, continuations);
        using var plain = new InferenceSession(model.Model, slots: 1);
        for (int i = 0; i < continuations.Length; i++)
        {
            double?[] whole = TokenScorer.ScoreSequence(plain, 0, [.. context, .. continuations[i]]);
            double expected = whole.Skip(context.Length).Sum(l => l!.Value);
            NumericAssert.RelativelyClose(expected, scores[i].LogLikelihood, PathTolerance, 1, $"continuation {i}");
            Assert.Equal(continuations[i].Length, scores[i].Tokens);
        }
    }

    [Fact]
    public void PicksTheKnownAnswerOfAHandBuiltTask()
    {
        // A tiny model that has learned one fact by heart: "the secret word is banana".
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.Default;
        int[] fact = tokenizer.Encode(" the secret word is banana. the secret word is banana. the secret word is banana.");
        var config = new GptConfig
        {
            Name = "memoriser", Family = ModelFamily.Gpt2, VocabSize = 50257, ContextLength = 32, EmbeddingSize = 32, LayerCount = 2, HeadCount = 2, FeedForwardSize = 64,
        };
        using var gpt = new GptModel(config);
        gpt.InitializeGpt2(new Rng(3));
        var batch = new MicroBatch(fact[..^1], fact[1..], 1, fact.Length - 1);
        using (var trainer = new Trainer(gpt, new FixedData(batch), new TrainerOptions
        {
            OutputDirectory = _dir, Steps = 80, LearningRate = 1e-2, WarmupSteps = 0, EvalInterval = 0, CheckpointInterval = 0,
        }))
        {
            trainer.Run();
        }
        string taskFile = Path.Combine(_dir, "secret.jsonl");
        File.WriteAllLines(taskFile,
        [
            "{\"query\": \"the secret word is\", \"choices\": [\"apple\", \"banana\", \"cherry\"], \"gold\": 1}",
            "{\"query\": \"the secret word is banana. the secret\", \"choices\": [\"apple\", \"word\", \"is\"], \"gold\": 1}",
        ]);
        using var model = new LanguageModel(gpt, tokenizer, "memoriser");
        using var runner = new EvalRunner(model);
        TaskResult result = runner.Run(TaskCatalog.Load(taskFile), 0, new EvalOptions());
        Assert.All(result.Examples, e => Assert.True(e.Correct, $"item {e.Index} predicted {e.Predicted}"));
        Assert.Equal(1.0, result.Metrics.Single(m => m.Name == "acc").Value);
    }

    [Fact]
    public void ShotsAreReducedToFitTheContextAndReported()
    {
        using LanguageModel model = LanguageModel.Load(TestData.Path("fixtures", "tiny-gpt2"));
        // tiny-gpt2 has a 64-token context and no tokenizer of its own; give it GPT-2's for text (ids ≥ 512 are
        // then out of its vocabulary), so use a task whose words are all single low-id tokens.
        string taskFile = Path.Combine(_dir, "long.jsonl");
        File.WriteAllLines(taskFile, Enumerable.Range(0, 10).Select(i => $"{{\"query\": \"{string.Join(' ', Enumerable.Repeat("a", 9))}\", \"choices\": [\"b\", \"c\"], \"gold\": {i % 2}}}"));
        var restricted = new LanguageModel(model.Model, Gpt2Tokenizer.Default, "tiny-gpt2");
        using var runner = new EvalRunner(restricted, maxTokensPerStep: 64);
        TaskResult result = runner.Run(TaskCatalog.Load(taskFile), 8, new EvalOptions());
        // Each demonstration is ~11 tokens: 8 of them cannot fit in 64 tokens with the query.
        Assert.Equal(10, result.ExamplesWithReducedShots);
        Assert.InRange(result.MinimumShotsUsed, 1, 4);
        Assert.All(result.Examples, e => Assert.True(Gpt2Tokenizer.Default.Encode(e.Contexts[0] + e.Continuations[0]).Length <= 64));
    }

    private sealed class FixedData(MicroBatch batch) : ITrainingData
    {
        public int MaxTime => batch.Time;
        public int MicroBatchSize => 1;
        public MicroBatch Next() => batch;
        public IEnumerable<MicroBatch> Validation() => [];
        public System.Text.Json.Nodes.JsonNode SavePosition() => new System.Text.Json.Nodes.JsonObject();
        public void RestorePosition(System.Text.Json.Nodes.JsonNode position) { }
    }
}
