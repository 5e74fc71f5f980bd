using System.Text.Json;
using System.Text.Json.Serialization;
using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Model.Lora;

/// <summary>Where one adapted layer's A [rank, in] and B [out, rank] live in the adapter's buffer.</summary>
public readonly record struct LoraSlot(long A, long B, int In, int Out);

/// <summary>
/// Low-rank adapters for some linear layers of every block, in one flat buffer (like the model's parameters):
/// y = W·x + b + (alpha/rank)·B·(A·x). Only these are trained in a LoRA fine-tune; the base stays frozen.
/// An adapter is saved on its own (adapter.safetensors + adapter_config.json) and can be applied to a base
/// model by merging: W ← W + (alpha/rank)·B·A.
/// </summary>
public sealed unsafe class LoraAdapter : IDisposable
{
    public const string WeightsFile = "adapter.safetensors";
    public const string ConfigFile = "adapter_config.json";

    private readonly LoraSlot?[,] _slots;

    public LoraAdapter(GptConfig config, LoraSettings settings)
    {
        Config = config;
        Settings = settings.Validate();
        int c = config.EmbeddingSize, f = config.FeedForwardSize, r = settings.Rank;
        _slots = new LoraSlot?[config.LayerCount, 4];
        var tensors = new List<ParameterTensor>();
        long offset = 0;
        long Add(string name, int rows, int cols, int layer)
        {
            var tensor = new ParameterTensor(name, [rows, cols], offset, ParameterKind.Matrix, layer);
            tensors.Add(tensor);
            offset += (tensor.Length + ParameterLayout.AlignmentFloats - 1) / ParameterLayout.AlignmentFloats * ParameterLayout.AlignmentFloats;
            return tensor.Offset;
        }
        for (int l = 0; l < config.LayerCount; l++)
        {
            foreach (LoraTarget target in settings.Targets.Distinct().Order())
            {
                (int inDim, int outDim) = target switch
                {
                    LoraTarget.Qkv => (c, 3 * c),
                    LoraTarget.AttentionOutput => (c, c),
                    LoraTarget.MlpUp => (c, f),
                    _ => (f, c),
                };
                string name = $"h.{l}.{TargetName(target)}";
                long a = Add(name + ".lora_A", r, inDim, l);
                long b = Add(name + ".lora_B", outDim, r, l);
                _slots[l, (int)target] = new LoraSlot(a, b, inDim, outDim);
            }
        }
        Tensors = tensors;
        TotalFloats = offset;
        Parameters = new NativeBuffer(offset);
    }

    public GptConfig Config { get; }

    public LoraSettings Settings { get; }

    public IReadOnlyList<ParameterTensor> Tensors { get; }

    public long TotalFloats { get; }

    public long ParameterCount => Tensors.Sum(t => t.Length);

    public NativeBuffer Parameters { get; }

    public LoraSlot? Slot(int layer, LoraTarget target) => _slots[layer, (int)target];

    /// <summary>The SharpGPT name of the base weight an adapter target modifies.</summary>
    public static string TargetName(LoraTarget target) => target switch
    {
        LoraTarget.Qkv => "attn.qkv",
        LoraTarget.AttentionOutput => "attn.proj",
        LoraTarget.MlpUp => "mlp.fc",
        _ => "mlp.proj",
    };

    /// <summary>A ~ U(−1/√in, 1/√in) (as PEFT's Kaiming-uniform init gives), B = 0: the adapter starts as a no-op.</summary>
    public void Initialize(Rng rng)
    {
        Parameters.Clear();
        foreach (ParameterTensor tensor in Tensors.Where(t => t.Name.EndsWith(".lora_A", StringComparison.Ordinal)))
        {
            float bound = 1f / MathF.Sqrt(tensor.Shape[1]);
            Span<float> values = Parameters.Slice(tensor.Offset, (int)tensor.Length);
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (rng.NextSingle() * 2 - 1) * bound;
            }
        }
    }

    /// <summary>W ← W + scale·B·A for every adapted layer of <paramref name="model"/> (same config).</summary>
    public void MergeInto(GptModel model)
    {
        model.ThrowIfFloatMatricesReleased("merge an adapter");
        CheckCompatible(model.Config);
        float scale = Settings.Scale;
        using var product = new NativeBuffer(Math.Max(3L * Config.EmbeddingSize * Config.EmbeddingSize, (long)Config.FeedForwardSize * Config.EmbeddingSize));
        for (int l = 0; l < Config.LayerCount; l++)
        {
            LayerOffsets offsets = model.Layout.Layers[l];
            foreach (LoraTarget target in Settings.Targets.Distinct())
            {
                LoraSlot slot = Slot(l, target)!.Value;
                long weight = target switch
                {
                    LoraTarget.Qkv => offsets.QkvWeight,
                    LoraTarget.AttentionOutput => offsets.AttnProjWeight,
                    LoraTarget.MlpUp => offsets.FcWeight,
                    _ => offsets.FcProjWeight,
                };
                // ΔW [out, in] = B [out, r] · A [r, in]; added to W with accumulate after scaling B·A.
                Gemm.Multiply(slot.Out, slot.In, Settings.Rank,
                    MatrixView.RowMajor(Parameters.Pointer + slot.B, Settings.Rank),
                    MatrixView.RowMajor(Parameters.Pointer + slot.A, slot.In),
                    product.Pointer, slot.In, accumulate: false);
                Span<float> delta = product.Slice(0, slot.Out * slot.In);
                Span<float> w = model.Parameters.Slice(weight, slot.Out * slot.In);
                System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(delta, scale, w, w);
            }
        }
    }

    public void CheckCompatible(GptConfig config)
    {
        if (config.LayerCount != Config.LayerCount || config.EmbeddingSize != Config.EmbeddingSize || config.FeedForwardSize != Config.FeedForwardSize)
        {
            throw new SharpGptException(
                $"The adapter was trained for {Config.LayerCount} layers × d {Config.EmbeddingSize} (d_ff {Config.FeedForwardSize}), " +
                $"not this model ({config.LayerCount} × {config.EmbeddingSize}, d_ff {config.FeedForwardSize}).");
        }
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed record AdapterFile(string Format, LoraSettings Settings, string BaseModel, JsonElement BaseConfig);

    /// <summary>Writes adapter.safetensors (SharpGPT names) and adapter_config.json.</summary>
    public void Save(string directory, string baseModel)
    {
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile),
            Tensors.Select(t => new SafetensorsTensorSource(t.Name, t.Shape.Select(d => (long)d).ToArray(),
                (start, chunk) => Parameters.Slice(t.Offset + start, chunk.Length).CopyTo(chunk))).ToList(),
            SafetensorsDType.F32, new Dictionary<string, string> { ["producer"] = "SharpGPT", ["format"] = "lora" });
        var file = new AdapterFile("sharpgpt-lora/1", Settings, baseModel, JsonSerializer.SerializeToElement(JsonDocument.Parse(ConfigJson.Serialize(Config)).RootElement));
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), JsonSerializer.Serialize(file, Json));
    }

    /// <summary>Subfolder of a `sharpgpt finetune --lora --out DIR` run that holds the final adapter.</summary>
    public const string RunSubfolder = "adapter";

    public static bool IsAdapterDirectory(string directory) => File.Exists(Path.Combine(Resolve(directory), ConfigFile));

    /// <summary>
    /// `sharpgpt finetune --lora --out DIR` saves the adapter in DIR/adapter next to its checkpoints; accept
    /// DIR itself too, so users can pass the folder they named.
    /// </summary>
    private static string Resolve(string directory) =>
        !File.Exists(Path.Combine(directory, ConfigFile)) && File.Exists(Path.Combine(directory, RunSubfolder, ConfigFile))
            ? Path.Combine(directory, RunSubfolder)
            : directory;

    /// <summary>Reads an adapter written by <see cref="Save"/>; checks every tensor's shape.</summary>
    public static LoraAdapter Load(string directory)
    {
        directory = Resolve(directory);
        string configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath))
        {
            throw new CheckpointException($"{directory}: not a LoRA adapter (no {ConfigFile}).");
        }
        AdapterFile file;
        GptConfig config;
        try
        {
            file = JsonSerializer.Deserialize<AdapterFile>(File.ReadAllText(configPath), Json) ?? throw new CheckpointException($"{configPath}: empty.");
            config = ConfigJson.Deserialize(file.BaseConfig.GetRawText(), configPath);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"{configPath}: invalid adapter config ({ex.Message}).", ex);
        }
        var adapter = new LoraAdapter(config, file.Settings);
        try
        {
            using SafetensorsFile weights = SafetensorsFile.Open(Path.Combine(directory, WeightsFile));
            foreach (ParameterTensor tensor in adapter.Tensors)
            {
                SafetensorsEntry entry = weights.Entry(tensor.Name);
                if (!entry.Shape.SequenceEqual(tensor.Shape.Select(d => (long)d)))
                {
                    throw new CheckpointException($"{weights.Path}: '{tensor.Name}' has shape {entry.ShapeText}, expected {tensor.ShapeText}.");
                }
                weights.ReadFloat32(entry, adapter.Parameters.Slice(tensor.Offset, (int)tensor.Length));
            }
            return adapter;
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
    }

    /// <summary>The base model this adapter was trained on, as recorded when it was saved.</summary>
    public static string BaseModelOf(string directory)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Resolve(directory), ConfigFile)));
        return document.RootElement.GetProperty("baseModel").GetString() ?? "";
    }

    public void Dispose() => Parameters.Dispose();
}
