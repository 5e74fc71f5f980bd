using System.Text.Json;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Cli.Tests;

public class CommandLineTests
{
    [Fact]
    public void InfoPrintsArchitectureAndCountWithoutWeights()
    {
        var (code, output, _) = CliRunner.Run("info", "--preset", "gpt3-175b");
        Assert.Equal(0, code);
        Assert.Contains("174,600,720,384", output);
        Assert.Contains("local window 256", output);
        (code, output, _) = CliRunner.Run("info", "--model", TestData.Path("fixtures", "tiny-gptneo"));
        Assert.Equal(0, code);
        Assert.Contains("GptNeo", output);
    }

    [Fact]
    public void BenchSmokeRunReportsEveryMetricAndTheTrainingMemoryBudget()
    {
        // A smoke-sized run on a tiny model: checks that every measurement runs and is reported, never a speed.
        string json = Path.Combine(Path.GetTempPath(), $"sharpgpt-bench-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output, _) = CliRunner.Run("bench", "--model", TestData.Path("models", "tiny-random-gpt2"), "--quick",
                "--batch", "2", "--time", "16", "--prompt", "8", "--decode", "4", "--json", json);
            Assert.Equal(0, code);
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(json));
            var results = document.RootElement.GetProperty("results").EnumerateArray()
                .ToDictionary(r => r.GetProperty("Name").GetString()!, r => (Value: r.GetProperty("Value").GetDouble(), Detail: r.GetProperty("Detail").GetString()!));
            Assert.Contains(results.Keys, name => name.StartsWith("decode (1 stream, int8", StringComparison.Ordinal));
            Assert.Contains(results.Keys, name => name.StartsWith("prefill, int8 weights (", StringComparison.Ordinal));
            // Decoding's weight stream is reported against a plain read of as many bytes in the same run.
            Assert.Contains("decode fp32: weight stream / plain read", results.Keys);
            Assert.All(results.Values, r => Assert.True(r.Value > 0 && double.IsFinite(r.Value)));
            var memory = Assert.Single(results, r => r.Key.StartsWith("training peak memory", StringComparison.Ordinal)).Value;
            Assert.Contains("of params + grads + Adam moments + activations", memory.Detail);
            Assert.Contains("training peak memory", output);
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Theory]
    [InlineData("generate", "--bogus")]
    [InlineData("generate", "--max-tokens", "many")]
    [InlineData("nonsense")]
    [InlineData("info", "--threads", "0")]
    public void WrongArgumentsGiveOneLineAndExitCode2(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("error: ", error);
    }

    [Theory]
    [InlineData("info", "--preset", "gpt7")]
    [InlineData("info")]
    [InlineData("generate", "--model", "/no/such/folder", "--prompt", "hi")]
    [InlineData("generate", "--prompt", "hi", "--prompt-ids", "1")]
    [InlineData("score", "--ids", "1,x,3", "--model", "/no/such/folder")]
    [InlineData("quantize", "--model", "/no/such/folder", "--to", "int8", "--out", "/tmp/never-written")]
    [InlineData("quantize", "--to", "q5", "--out", "/tmp/never-written")]
    public void BadInputGivesOneLineAndExitCode1(params string[] args)
    {
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("error: ", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void GenerateWithTokenIdsIsGreedyAndDeterministic()
    {
        string model = TestData.Path("models", "tiny-random-gpt2");
        var (code, output, _) = CliRunner.Run("generate", "--model", model, "--prompt-ids", "0,0,195,731", "-n", "6", "--greedy");
        Assert.Equal(0, code);
        // onnxruntime-genai's greedy continuation of this prompt.
        Assert.Equal("731 114 114 114 114 114", output.Trim());
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("q4")]
    public void AQuantizedFolderScoresLikeQuantizingAtLoadAndIsNotQuantizedInPlace(string kind)
    {
        string model = TestData.Path("models", "tiny-random-gpt2");
        string folder = Directory.CreateTempSubdirectory("sharpgpt-quantize-cli").FullName;
        try
        {
            var (code, output, error) = CliRunner.Run("quantize", "--model", model, "--to", kind, "--out", folder);
            Assert.True(code == 0, error);
            Assert.Contains($"to {kind}", output);
            string[] ids = ["--ids", "0,195,731,114,42,7"];
            var (_, expected, _) = CliRunner.Run(["score", "--model", model, "--quantize", kind, "--json", .. ids]);
            var (quantizedCode, actual, _) = CliRunner.Run(["score", "--model", folder, "--json", .. ids]);
            Assert.Equal(0, quantizedCode);
            Assert.Equal(expected, actual);
            var (fp32Code, fp32, _) = CliRunner.Run(["score", "--model", model, "--json", .. ids]);
            Assert.Equal(0, fp32Code);
            Assert.NotEqual(fp32, actual);

            (code, _, error) = CliRunner.Run("quantize", "--model", model, "--to", kind, "--out", model);
            Assert.Equal(1, code);
            Assert.Contains("is the input folder", error);
            (code, _, error) = CliRunner.Run("quantize", "--model", folder, "--to", kind, "--out", folder + "-again");
            Assert.Equal(1, code);
            Assert.Contains("quantized already", error);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void ScoreJsonHasTheDocumentedShape()
    {
        var (code, output, _) = CliRunner.Run("score", "--model", TestData.Path("fixtures", "tiny-gpt2"), "--ids", "445,347,263", "--json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement root = json.RootElement;
        Assert.Equal(3, root.GetProperty("tokens").GetArrayLength());
        Assert.Equal([445, 347, 263], root.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        var logprobs = root.GetProperty("logprobs").EnumerateArray().ToArray();
        Assert.Equal(JsonValueKind.Null, logprobs[0].ValueKind);
        double total = logprobs.Skip(1).Sum(l => l.GetDouble());
        Assert.Equal(total, root.GetProperty("total_logprob").GetDouble(), 9);
        Assert.True(total < 0);
    }
}
