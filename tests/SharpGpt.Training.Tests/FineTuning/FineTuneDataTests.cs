using SharpGpt.Model;
using SharpGpt.Model.Tokenization;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Training.FineTuning;
using Xunit;

namespace SharpGpt.Training.Tests.FineTuning;

public sealed class FineTuneDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-ft").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(params string[] lines)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void PromptTokensCarryNoLoss()
    {
        var tokenizer = Gpt2Tokenizer.Default;
        var loaded = FineTuneDataset.Load(Write("{\"prompt\": \"Q: 2+2?\\nA:\", \"completion\": \" 4\"}", "{\"text\": \"plain text\"}"), tokenizer, 64);
        FineTuneExample qa = loaded.Examples[0];
        int[] prompt = tokenizer.Encode("Q: 2+2?\nA:"), completion = tokenizer.Encode(" 4");
        Assert.Equal([.. prompt, .. completion, 50256], qa.Ids);
        int time = qa.Ids.Length - 1 + 2; // two padding positions
        int[] inputs = new int[time], targets = new int[time];
        qa.Fill(inputs, targets, 50256);
        // Position t predicts ids[t+1]: only the completion and the end-of-text are counted.
        int[] expected = Enumerable.Range(0, time).Select(t => t + 1 < qa.Ids.Length && t + 1 >= prompt.Length ? qa.Ids[t + 1] : -1).ToArray();
        Assert.Equal(expected, targets);
        Assert.Equal(completion.Length + 1, targets.Count(t => t >= 0));
        Assert.Equal(0, loaded.Examples[1].PromptLength);
    }

    [Fact]
    public void TrainerLossIsTheMeanOverCompletionTokensOnly()
    {
        var tokenizer = Gpt2Tokenizer.Default;
        var loaded = FineTuneDataset.Load(Write(
            "{\"prompt\": \"The capital of France is\", \"completion\": \" Paris.\"}",
            "{\"prompt\": \"One plus one is\", \"completion\": \" two, as everyone knows.\"}"), tokenizer, 64);
        var data = new FineTuneData(loaded.Examples, [], 2, 50256, seed: 1);
        var batch = data.Next();
        using var model = new GptModel(TrainingFixture.TinyConfig with { ContextLength = 64 });
        model.InitializeGpt2(new Rng(4));
        using var graph = new TrainingGraph(model, 2, batch.Time);
        float loss = graph.Forward(batch.Inputs, batch.Targets, 2, batch.Time);
        // Recompute by hand: log-softmax of the logits at counted positions only.
        graph.ForwardLogits(batch.Inputs, 2, batch.Time);
        double sum = 0;
        int counted = 0;
        for (int i = 0; i < batch.Targets.Length; i++)
        {
            if (batch.Targets[i] < 0)
            {
                continue;
            }
            ReadOnlySpan<float> logits = graph.Logits(i);
            sum += SoftmaxCrossEntropy.LogSumExp(logits) - logits[batch.Targets[i]];
            counted++;
        }
        Assert.Equal(loaded.Examples.Sum(e => e.Ids.Length - e.PromptLength), counted);
        Assert.Equal(sum / counted, loss, 4);
    }

    [Fact]
    public void LongExamplesLoseTheStartOfTheirPrompt()
    {
        var tokenizer = Gpt2Tokenizer.Default;
        string prompt = string.Join(' ', Enumerable.Repeat("word", 100));
        var loaded = FineTuneDataset.Load(Write($"{{\"prompt\": \"{prompt}\", \"completion\": \" end\"}}"), tokenizer, 20);
        FineTuneExample example = loaded.Examples[0];
        Assert.Equal(1, loaded.Truncated);
        Assert.Equal(21, example.Ids.Length);
        Assert.Equal([.. tokenizer.Encode(" end"), 50256], example.Ids[^2..]);
    }

    [Theory]
    [InlineData("{\"prompt\": \"only a prompt\"}", "completion")]
    [InlineData("{\"input\": \"x\"}", "\"prompt\" and \"completion\", or \"text\"")]
    [InlineData("not json", "invalid JSON")]
    [InlineData("{\"text\": 5}", "must be a string")]
    public void MalformedRecordsNameTheLine(string line, string expected)
    {
        string path = Write("{\"text\": \"fine\"}", line);
        var ex = Assert.Throws<SharpGptException>(() => FineTuneDataset.Load(path, Gpt2Tokenizer.Default, 64));
        Assert.Contains($"{path}:2", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void SplitIsSeededAndDisjoint()
    {
        var examples = Enumerable.Range(0, 20).Select(i => new FineTuneExample([i, i + 1], 0, $"ex{i}")).ToList();
        var (train, validation) = FineTuneDataset.Split(examples, 0.25, 3);
        var (train2, validation2) = FineTuneDataset.Split(examples, 0.25, 3);
        Assert.Equal(5, validation.Count);
        Assert.Equal(validation.Select(e => e.Source), validation2.Select(e => e.Source));
        Assert.Empty(train.Select(e => e.Source).Intersect(validation.Select(e => e.Source)));
        Assert.Equal(20, train.Count + validation.Count);
    }
}
