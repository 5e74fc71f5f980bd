using SharpGpt.Model;
using SharpGpt.Model.Tokenization;
using SharpGpt.Training.Data;

namespace SharpGpt.Training.Tests;

/// <summary>A tiny corpus prepared once per test class, and a tiny model config.</summary>
public sealed class TrainingFixture : IDisposable
{
    public TrainingFixture()
    {
        Root = Directory.CreateTempSubdirectory("sharpgpt-train").FullName;
        string corpus = Path.Combine(Root, "corpus");
        Directory.CreateDirectory(corpus);
        var rng = new SharpGpt.Tensors.Random.Rng(5);
        string[] words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red", "house", "."];
        for (int d = 0; d < 40; d++)
        {
            File.WriteAllText(Path.Combine(corpus, $"doc{d:D2}.txt"),
                string.Join(' ', Enumerable.Range(0, 200).Select(_ => words[rng.NextInt(words.Length)])));
        }
        DataDirectory = Path.Combine(Root, "data");
        Manifest = new DataPreparer(Gpt2Tokenizer.Default).Prepare(new PrepareOptions
        {
            Inputs = [corpus], Output = DataDirectory, ValidationFraction = 0.1, ValidationBlockTokens = 512,
        });
    }

    public string Root { get; }

    public string DataDirectory { get; }

    public DatasetManifest Manifest { get; }

    public static GptConfig TinyConfig => new()
    {
        Name = "test-tiny", Family = ModelFamily.GptNeo, VocabSize = 50257, ContextLength = 32, EmbeddingSize = 32, LayerCount = 2, HeadCount = 2,
        FeedForwardSize = 64, AttentionLayers = [AttentionKind.Global, AttentionKind.Local], WindowSize = 8, ScaleAttention = false, QkvBias = false,
    };

    public string NewOutput() => Directory.CreateTempSubdirectory("sharpgpt-run").FullName;

    public void Dispose() => Directory.Delete(Root, true);
}
