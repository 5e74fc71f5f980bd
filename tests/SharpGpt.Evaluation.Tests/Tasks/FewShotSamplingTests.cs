using SharpGpt.Evaluation.Tasks;
using Xunit;

namespace SharpGpt.Evaluation.Tests.Tasks;

public class FewShotSamplingTests
{
    [Theory]
    [InlineData("hellaswag")]
    [InlineData("lambada")]
    [InlineData("winogrande")]
    public void DemonstrationsAreDeterministicPerSeedAndNeverTheScoredItem(string name)
    {
        LoadedTask task = TaskCatalog.Load(name);
        Assert.True(task.PoolIsEvaluatedFile);
        foreach (EvalItem item in task.Items)
        {
            int[] a = FewShotPromptBuilder.Choose(task, item, 5, seed: 7);
            Assert.Equal(a, FewShotPromptBuilder.Choose(task, item, 5, seed: 7));
            Assert.Equal(5, a.Distinct().Count());
            Assert.DoesNotContain(a, i => task.DemonstrationPool[i].Index == item.Index);
        }
        // A different seed draws different demonstrations for most items.
        int differing = task.Items.Count(item => !FewShotPromptBuilder.Choose(task, item, 5, 7).SequenceEqual(FewShotPromptBuilder.Choose(task, item, 5, 8)));
        Assert.True(differing > task.Items.Count / 2);
    }

    [Fact]
    public void Sst2DrawsFromItsTrainSplitAndKIsCappedByThePool()
    {
        LoadedTask task = TaskCatalog.Load("sst2");
        Assert.False(task.PoolIsEvaluatedFile);
        Assert.Equal(2000, task.DemonstrationPool.Count);
        LoadedTask copa = TaskCatalog.Load("copa");
        Assert.Equal(copa.Items.Count - 1, FewShotPromptBuilder.Choose(copa, copa.Items[3], 1000, 1).Length);
    }

    [Fact]
    public void LambadaClozeUsesTheFillInTheBlankForm()
    {
        LoadedTask task = TaskCatalog.Load("lambada_cloze");
        string text = task.Task.DemonstrationText(task.Items[0]);
        Assert.EndsWith(" ____. -> signs", text);
    }

    [Fact]
    public void UnknownTasksAndBadFilesAreRejected()
    {
        var ex = Assert.Throws<SharpGpt.Model.SharpGptException>(() => TaskCatalog.Load("mmlu"));
        Assert.Contains("hellaswag", ex.Message);
        string path = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 5}\n");
        try
        {
            ex = Assert.Throws<SharpGpt.Model.SharpGptException>(() => TaskCatalog.Load(path));
            Assert.Contains($"{path}:1", ex.Message);
            Assert.Contains("not one of the 2 choices", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
