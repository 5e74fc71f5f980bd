using SharpGpt.Model;
using SharpGpt.Model.Tokenization;
using SharpGpt.TestSupport;
using SharpGpt.Training.FineTuning;
using Xunit;

namespace SharpGpt.Training.Tests.FineTuning;

public class MultiXScienceTests
{
    private static string Sample => Path.Combine(TestData.RepositoryRoot, "data", "multixscience", "citebench_sample.json");

    [Theory]
    [InlineData(512)]
    [InlineData(1024)]
    public void EveryConvertedRecordFitsTheContextAndKeepsEveryCitationLabel(int context)
    {
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.Default;
        var records = MultiXScience.Read(Sample);
        Assert.Equal(50, records.Count);
        foreach (var (paper, cited, target) in records)
        {
            var conversion = MultiXScience.Convert(tokenizer, paper, cited, target, context);
            // The prompt gets what the completion and <|endoftext|> leave, but never less than a quarter of the context.
            int budget = Math.Max(context - conversion.CompletionTokens - 1, context / 4);
            Assert.True(conversion.PromptTokens <= budget, $"a {conversion.PromptTokens}-token prompt exceeds its budget of {budget}");
            Assert.Equal(tokenizer.Encode(conversion.Prompt).Length, conversion.PromptTokens);
            for (int i = 0; i < cited.Length; i++)
            {
                Assert.Contains($"\n[{i}] ", conversion.Prompt);
            }
            Assert.EndsWith(MultiXScience.CompletionCue, conversion.Prompt);
            Assert.Equal(" " + target, conversion.Completion);
        }
    }

    [Fact]
    public void ShortRecordsAreNotCut()
    {
        var conversion = MultiXScience.Convert(Gpt2Tokenizer.Default, "We study cats.", ["Dogs bark.", ""], "Unlike [0], we study cats.", 1024);
        Assert.False(conversion.Truncated);
        Assert.Contains("Abstract: We study cats.", conversion.Prompt);
        Assert.Contains("\n[0] Dogs bark.", conversion.Prompt);
        Assert.Contains("\n[1] (no abstract)", conversion.Prompt);
    }

    [Fact]
    public void ConvertedFileLoadsAsCompletionOnlyFineTuningData()
    {
        string output = Path.Combine(Path.GetTempPath(), $"mxs-{Guid.NewGuid():N}.jsonl");
        try
        {
            MultiXScience.ConvertFile(Gpt2Tokenizer.Default, Sample, output, 512);
            var loaded = FineTuneDataset.Load(output, Gpt2Tokenizer.Default, maxLength: 512);
            Assert.Equal(50, loaded.Examples.Count);
            Assert.Equal(50, loaded.CompletionOnly);
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void MalformedRecordsAreNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mxs-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, """[{"input": ["<abs> a"], "target": "b"}, {"input": [], "target": "c"}]""");
            var error = Assert.Throws<SharpGptException>(() => MultiXScience.Read(path));
            Assert.Contains("record 1", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
