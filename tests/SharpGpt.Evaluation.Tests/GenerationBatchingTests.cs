using SharpGpt.Evaluation.Tasks;
using SharpGpt.Inference;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Model.Backends;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Evaluation.Tests;

/// <summary>
/// Generation tasks decode a block of examples together through a batching engine. Greedy decoding on
/// row-invariant kernels must give every example exactly the text it gets when generated alone.
/// </summary>
public class GenerationBatchingTests
{
    [Fact]
    public void BatchedGreedyGenerationsEqualOneAtATime()
    {
        using LanguageModel model = LanguageModel.Load(Path.Combine(TestData.RepositoryRoot, "models", "sharpgpt-default"));
        // The built-in model answers every arithmetic prompt with the same newline (the stop sequence). LAMBADA's
        // passages as a generation task without stop sequences make it write 8 tokens that differ between examples,
        // so a slot reading another slot's cache or logits would show.
        LoadedTask lambada = TaskCatalog.Load("lambada");
        LoadedTask task = lambada with { Task = lambada.Task with { Kind = TaskKind.Generation, StopSequences = [], MaxGeneratedTokens = 8 } };
        TaskResult batched;
        using (var runner = new EvalRunner(model, slots: 8))
        {
            batched = runner.Run(task, 1, new EvalOptions { Limit = 12, Seed = 3 });
        }
        Assert.Equal(12, batched.Examples.Count);
        Assert.All(batched.Examples, e => Assert.NotEmpty(e.Generated!));
        Assert.True(batched.Examples.Select(e => e.Generated).Distinct().Count() > 1, "every example generated the same text");

        var options = new GenerationOptions { MaxTokens = task.Task.MaxGeneratedTokens, Stop = task.Task.StopSequences, Sampling = SamplingOptions.Greedy };
        using var session = ComputeBackends.Default.CreateInferenceSession(model.Model, slots: 1, maxTokensPerStep: 512);
        var generator = new TextGenerator(model);
        foreach (ExampleResult example in batched.Examples)
        {
            int[] ids = model.RequireTokenizer().Encode(example.Contexts[0]);
            int room = session.MaxContext - task.Task.MaxGeneratedTokens;
            ids = ids.Length > room ? ids[^room..] : ids;
            session.Reset(0);
            string alone = string.Concat(generator.Generate(session, 0, ids, options).Select(e => e.Text));
            Assert.Equal(alone, example.Generated);
        }
    }
}
