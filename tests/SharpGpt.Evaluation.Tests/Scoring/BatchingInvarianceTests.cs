using SharpGpt.Evaluation.Tasks;
using SharpGpt.Inference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Evaluation.Tests.Scoring;

/// <summary>
/// The runner packs the scoring requests of several examples into each wave of KV slots and each model step.
/// Packing must not change any number: every log-likelihood is bitwise the same whether examples are scored one
/// at a time in small steps or many together in large ones.
/// </summary>
public class BatchingInvarianceTests
{
    /// <summary>
    /// Multiple choice (HellaSwag), with unconditional normalisation (ARC-Easy), partial scoring (WinoGrande) and
    /// language modelling (LAMBADA), one-shot, on the built-in model (GPT-Neo: local layers keep a ring buffer).
    /// </summary>
    [Theory]
    [InlineData("hellaswag")]
    [InlineData("arc_easy")]
    [InlineData("winogrande")]
    [InlineData("lambada")]
    public void LogLikelihoodsDoNotDependOnHowExamplesArePacked(string taskName)
    {
        using LanguageModel model = LanguageModel.Load(Path.Combine(TestData.RepositoryRoot, "models", "sharpgpt-default"));
        LoadedTask task = TaskCatalog.Load(taskName);
        var options = new EvalOptions { Limit = 12, Seed = 5 };
        TaskResult one, many;
        // 4 slots: a multiple-choice question with 4 choices fills a wave alone; 61 rows a step split the contexts
        // at odd places. 32 slots and 512 rows: up to 8 questions share each wave and step.
        using (var narrow = new EvalRunner(model, maxTokensPerStep: 61, slots: 4))
        {
            one = narrow.Run(task, 1, options);
        }
        using (var wide = new EvalRunner(model, maxTokensPerStep: 512, slots: 32))
        {
            many = wide.Run(task, 1, options);
        }
        Assert.Equal(12, many.Examples.Count);
        for (int i = 0; i < one.Examples.Count; i++)
        {
            Assert.Equal(one.Examples[i].Contexts, many.Examples[i].Contexts);
            Assert.Equal(one.Examples[i].LogLikelihoods, many.Examples[i].LogLikelihoods);
            Assert.Equal(one.Examples[i].UnconditionalLogLikelihoods, many.Examples[i].UnconditionalLogLikelihoods);
        }
    }
}
