using SharpGpt.Model.Checkpoints.HuggingFace;
using Xunit;

namespace SharpGpt.Cli.Tests;

/// <summary>prepare → train → resume → export → generate, and LoRA fine-tuning, through the command line on a tiny model.</summary>
public sealed class TrainingRoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-e2e").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string P(string name) => Path.Combine(_dir, name);

    private static void Ok((int ExitCode, string Output, string Error) result) =>
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Output}\n{result.Error}");

    [Fact]
    public void PrepareTrainResumeExportGenerateAndFineTune()
    {
        Directory.CreateDirectory(P("corpus"));
        var rng = new SharpGpt.Tensors.Random.Rng(2);
        string[] words = ["the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "ran", "."];
        for (int d = 0; d < 10; d++)
        {
            File.WriteAllText(P($"corpus/d{d}.txt"), string.Join(' ', Enumerable.Range(0, 300).Select(_ => words[rng.NextInt(words.Length)])));
        }
        File.WriteAllText(P("tiny.json"), """
            {"name":"tiny","family":"GptNeo","vocabSize":50257,"contextLength":64,"embeddingSize":32,"layerCount":2,"headCount":2,
             "feedForwardSize":64,"attentionLayers":["Global","Local"],"windowSize":16,"scaleAttention":false,"qkvBias":false}
            """);
        Ok(CliRunner.Run("prepare", "--input", P("corpus"), "--out", P("data"), "--val-block", "256", "--val-fraction", "0.2"));
        string[] train = ["train", "--config", P("tiny.json"), "--data", P("data"), "--out", P("run"), "--batch", "4", "--seq", "32",
            "--lr", "5e-3", "--warmup", "2", "--eval-interval", "5", "--checkpoint-interval", "5", "--eval-sequences", "8"];
        Ok(CliRunner.Run([.. train, "--steps", "10"]));
        var resumed = CliRunner.Run([.. train, "--steps", "15", "--resume"]);
        Ok(resumed);
        Assert.Contains("resuming from", resumed.Output);
        Assert.Contains("step 15/15", resumed.Output);
        string[] metrics = File.ReadAllLines(P("run/metrics.jsonl"));
        Assert.Equal(15, metrics.Count(l => l.Contains("\"loss\"")));
        Assert.True(File.Exists(P("run/loss.png")));

        var generated = CliRunner.Run("generate", "--model", P("run/model"), "--prompt", "the cat", "-n", "8", "--seed", "3");
        Ok(generated);
        Assert.StartsWith("the cat", generated.Output);
        Assert.Equal(generated.Output, CliRunner.Run("generate", "--model", P("run/model"), "--prompt", "the cat", "-n", "8", "--seed", "3").Output);

        Ok(CliRunner.Run("export", "--checkpoint", P("run"), "--out", P("exported"), "--dtype", "bf16", "--best"));
        using (var exported = HfModelLoader.Load(P("exported")).Model)
        {
            Assert.Equal(2, exported.Config.LayerCount);
        }

        File.WriteAllLines(P("ft.jsonl"), Enumerable.Range(0, 12).Select(i => $"{{\"prompt\": \"the dog\", \"completion\": \" sat on the mat {i % 3}.\"}}"));
        var finetune = CliRunner.Run("finetune", "--model", P("run/model"), "--data", P("ft.jsonl"), "--out", P("ft"), "--lora", "--lora-rank", "4",
            "--epochs", "2", "--batch", "2", "--val-fraction", "0.25");
        Ok(finetune);
        Assert.Contains("LoRA r=4", finetune.Output);
        Assert.True(File.Exists(P("ft/adapter/adapter.safetensors")));
        Ok(CliRunner.Run("generate", "--model", P("ft/adapter"), "--prompt", "the dog", "-n", "4", "--greedy"));
        Ok(CliRunner.Run("merge-adapter", "--adapter", P("ft/adapter"), "--out", P("merged")));
        // The merged model and base + adapter generate the same greedy text.
        Assert.Equal(
            CliRunner.Run("generate", "--model", P("merged"), "--prompt", "the dog", "-n", "6", "--greedy").Output,
            CliRunner.Run("generate", "--model", P("run/model"), "--adapter", P("ft/adapter"), "--prompt", "the dog", "-n", "6", "--greedy").Output);
        // The folder given to finetune --out works as the adapter too (it holds the adapter in adapter/).
        Assert.Equal(
            CliRunner.Run("generate", "--model", P("merged"), "--prompt", "the dog", "-n", "6", "--greedy").Output,
            CliRunner.Run("generate", "--model", P("run/model"), "--adapter", P("ft"), "--prompt", "the dog", "-n", "6", "--greedy").Output);
    }

    [Fact]
    public void PrepareReportsBadInputOnOneLine()
    {
        File.WriteAllBytes(P("bad.txt"), [0x41, 0xFF, 0x42]);
        var (code, _, error) = CliRunner.Run("prepare", "--input", P("bad.txt"), "--out", P("out"));
        Assert.Equal(1, code);
        Assert.Contains("bad.txt:1: invalid UTF-8", error);
    }
}
