using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Quantized;
using SharpGpt.Model.Lora;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Inference;

/// <summary>
/// A model ready for text: its weights and the tokenizer that goes with them. The tokenizer comes from the
/// model folder when it has tokenizer files; otherwise a model with GPT-2's 50257-token vocabulary uses the
/// built-in GPT-2 tokenizer, and any other model works on token ids only.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    /// <summary>The folder of the built-in default model, next to the SharpGPT binaries.</summary>
    public static string DefaultModelDirectory => Path.Combine(AppContext.BaseDirectory, "models", "sharpgpt-default");

    public LanguageModel(GptModel model, Gpt2Tokenizer? tokenizer, string source, IReadOnlyList<string>? warnings = null)
    {
        Model = model;
        Tokenizer = tokenizer;
        Source = source;
        Warnings = warnings ?? [];
    }

    public GptModel Model { get; }

    public Gpt2Tokenizer? Tokenizer { get; }

    /// <summary>Where the model was loaded from.</summary>
    public string Source { get; }

    public IReadOnlyList<string> Warnings { get; }

    public GptConfig Config => Model.Config;

    /// <summary>A short name for APIs (the folder name).</summary>
    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Source));

    public Gpt2Tokenizer RequireTokenizer() =>
        Tokenizer ?? throw new SharpGptException(
            $"The model in {Source} has a vocabulary of {Config.VocabSize} and no tokenizer files; it can only be used with token ids.");

    /// <summary>Loads a Hugging Face folder (GPT-2 or GPT-Neo).</summary>
    public static LanguageModel Load(string directory)
    {
        LoadedModel loaded = HfModelLoader.Load(directory);
        try
        {
            Gpt2Tokenizer? tokenizer = Gpt2Tokenizer.TryFromDirectory(directory);
            if (tokenizer == null && loaded.Model.Config.VocabSize == Gpt2Tokenizer.Default.VocabSize)
            {
                tokenizer = Gpt2Tokenizer.Default;
            }
            if (tokenizer != null && tokenizer.VocabSize > loaded.Model.Config.VocabSize)
            {
                throw new SharpGptException(
                    $"{directory}: the tokenizer has {tokenizer.VocabSize} tokens but the model only {loaded.Model.Config.VocabSize}.");
            }
            return new LanguageModel(loaded.Model, tokenizer, Path.GetFullPath(directory), loaded.Warnings);
        }
        catch
        {
            loaded.Model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads <paramref name="directory"/> (or the built-in default model when it is null) and, with an adapter,
    /// merges the LoRA adapter into the weights. A directory that is itself an adapter loads the base model
    /// recorded in it. With <paramref name="quantize"/>, the fp32 copies of the quantized block matrices are given
    /// back to the operating system unless <paramref name="keepFloatWeights"/> (see <see cref="GptModel.Quantize"/>).
    /// A folder from `sharpgpt quantize` loads quantized already; asking for its own kind again is a no-op.
    /// </summary>
    public static LanguageModel LoadOrDefault(string? directory, string? adapter = null, Tensors.Kernels.Quantized.QuantizationKind? quantize = null,
        bool keepFloatWeights = false)
    {
        if (directory != null && LoraAdapter.IsAdapterDirectory(directory))
        {
            adapter ??= directory;
            directory = LoraAdapter.BaseModelOf(directory);
            if (directory.Length == 0 || !Directory.Exists(directory))
            {
                throw new SharpGptException($"{adapter}: the adapter's base model '{directory}' is not available; pass it with --model and the adapter with --adapter.");
            }
        }
        LanguageModel model = directory != null ? Load(directory) : LoadDefault();
        if (adapter != null)
        {
            try
            {
                using LoraAdapter lora = LoraAdapter.Load(adapter);
                lora.MergeInto(model.Model);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        if (quantize is { } kind && model.Model.Quantized?.Kind != kind)
        {
            try
            {
                if (model.Model.FloatMatricesReleased)
                {
                    throw new SharpGptException(
                        $"{model.Source} holds {QuantizedCheckpoint.KindName(model.Model.Quantized!.Kind)} weights (from `sharpgpt quantize`); " +
                        $"{QuantizedCheckpoint.KindName(kind)} needs the fp32 model.");
                }
                model.Model.Quantize(kind, keepFloatWeights);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return model;
    }

    /// <summary>Parses a --quantize value: int8, q4 (also int4) or bf16; null or "none" means fp32.</summary>
    public static Tensors.Kernels.Quantized.QuantizationKind? ParseQuantization(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "none" or "fp32" or "f32" => null,
        "int8" or "q8" or "q8_0" => Tensors.Kernels.Quantized.QuantizationKind.Int8,
        "q4" or "int4" or "q4_0" => Tensors.Kernels.Quantized.QuantizationKind.Int4,
        "bf16" or "bfloat16" => Tensors.Kernels.Quantized.QuantizationKind.BFloat16,
        _ => throw new SharpGptException($"unknown quantization '{text}' (use int8, q4 or bf16)."),
    };

    private static LanguageModel LoadDefault()
    {
        if (!Directory.Exists(DefaultModelDirectory))
        {
            throw new SharpGptException($"The built-in default model is missing from {DefaultModelDirectory}; pass --model DIR.");
        }
        return Load(DefaultModelDirectory);
    }

    public void Dispose() => Model.Dispose();
}
