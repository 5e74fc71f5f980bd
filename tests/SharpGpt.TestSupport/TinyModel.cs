using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Tokenization;
using SharpGpt.Tensors.Random;

namespace SharpGpt.TestSupport;

/// <summary>
/// A small random GPT with the GPT-2 vocabulary, saved once per test run in the Hugging Face layout with the
/// tokenizer files: text prompts work, and decoding is fast.
/// </summary>
public static class TinyModel
{
    private static readonly Lazy<string> Folder = new(Create);

    public static string Path => Folder.Value;

    public const int Context = 128;

    private static string Create()
    {
        string directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"sharpgpt-tiny-{Environment.ProcessId}");
        var config = new GptConfig
        {
            Name = "tiny", Family = ModelFamily.GptNeo, VocabSize = 50257, ContextLength = Context, EmbeddingSize = 32, LayerCount = 2, HeadCount = 2,
            FeedForwardSize = 64, AttentionLayers = [AttentionKind.Global, AttentionKind.Local], WindowSize = 16, ScaleAttention = false, QkvBias = false,
        };
        using var model = new GptModel(config);
        // Large weights make the next-token distribution peaked and varied, so texts differ by seed and prompt.
        model.InitializeGpt2(new Rng(42), 0.5f);
        HfModelSaver.Save(model, directory, Gpt2Tokenizer.Default);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(directory, true);
            }
            catch (IOException)
            {
            }
        };
        return directory;
    }
}
