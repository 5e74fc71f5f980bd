using System.Buffers;
using System.Text.Json;
using SharpGpt.Model.Checkpoints.Quantized;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Model.Checkpoints.HuggingFace;

/// <summary>A model read from a folder, with notes about anything in the files that was not used.</summary>
public sealed record LoadedModel(GptModel Model, string Directory, IReadOnlyList<string> Warnings);

/// <summary>
/// Loads a Hugging Face model folder (config.json plus model.safetensors, or shards listed in
/// model.safetensors.index.json) for GPT-2 and GPT-Neo, in F32, F16 or BF16. Each file is memory-mapped
/// and converted tensor by tensor straight into the parameter buffer. A folder written by `sharpgpt quantize`
/// (<see cref="QuantizedCheckpoint"/>) loads its quantized matrices instead of fp32 ones.
/// </summary>
public static class HfModelLoader
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    public static LoadedModel Load(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new CheckpointException($"Model folder '{directory}' does not exist.");
        }
        GptConfig config = HfConfig.Read(Path.Combine(directory, ConfigFile));
        List<SafetensorsFile> files = OpenWeightFiles(directory);
        var model = new GptModel(config);
        try
        {
            var warnings = new List<string>();
            var index = BuildIndex(files);
            var used = new HashSet<string>(StringComparer.Ordinal);
            QuantizationKind? quantization = QuantizationOf(files, directory);
            foreach (HfMapping mapping in HfWeightMap.For(model.Layout))
            {
                if (quantization != null && Inference.QuantizedWeights.IsSource(mapping.Tensor))
                {
                    continue;
                }
                Span<float> destination = model.Tensor(mapping.Tensor.Name);
                foreach (HfPart part in mapping.Parts)
                {
                    (SafetensorsFile file, SafetensorsEntry entry) = Find(index, part.Name, directory, mapping.Tensor.Name);
                    used.Add(entry.Name);
                    if (!entry.Shape.SequenceEqual(part.Shape))
                    {
                        throw new CheckpointException(
                            $"{file.Path}: tensor '{entry.Name}' has shape {entry.ShapeText}, but config.json implies [{string.Join(", ", part.Shape)}].");
                    }
                    Span<float> target = destination.Slice((int)part.Offset, (int)part.ElementCount);
                    if (part.Transpose)
                    {
                        ReadTransposed(file, entry, target, (int)part.Shape[0], (int)part.Shape[1]);
                    }
                    else
                    {
                        file.ReadFloat32(entry, target);
                    }
                    CheckFinite(target, file.Path, entry.Name);
                }
            }
            if (quantization is { } kind)
            {
                model.UseQuantized(QuantizedCheckpoint.Read(model.Layout, kind, name =>
                {
                    used.Add(name);
                    return index.TryGetValue(name, out var hit)
                        ? hit
                        : throw new CheckpointException($"{directory}: quantized tensor '{name}' is missing from the safetensors files.");
                }));
            }
            foreach ((string name, (SafetensorsFile file, SafetensorsEntry entry)) in index)
            {
                if (used.Contains(name))
                {
                    continue;
                }
                if (name.EndsWith("lm_head.weight", StringComparison.Ordinal))
                {
                    CheckTiedHead(file, entry, model);
                }
                else if (!HfWeightMap.IsKnownExtra(StripPrefix(name)))
                {
                    warnings.Add($"{file.Path}: tensor '{name}' is not part of the model and was ignored.");
                }
            }
            return new LoadedModel(model, directory, warnings);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (SafetensorsFile file in files)
            {
                file.Dispose();
            }
        }
    }

    /// <summary>The quantization the weight files record (all of them the same), or null for a float model.</summary>
    private static QuantizationKind? QuantizationOf(List<SafetensorsFile> files, string directory)
    {
        QuantizationKind?[] kinds = files.Select(QuantizedCheckpoint.KindOf).Distinct().ToArray();
        return kinds.Length == 1
            ? kinds[0]
            : throw new CheckpointException($"{directory}: the weight files mix quantizations ({string.Join(", ", kinds.Select(k => k is { } q ? QuantizedCheckpoint.KindName(q) : "none"))}).");
    }

    private static List<SafetensorsFile> OpenWeightFiles(string directory)
    {
        var paths = new List<string>();
        string single = Path.Combine(directory, WeightsFile);
        string indexPath = Path.Combine(directory, IndexFile);
        if (File.Exists(single))
        {
            paths.Add(single);
        }
        else if (File.Exists(indexPath))
        {
            paths.AddRange(ReadShardIndex(indexPath, directory));
        }
        else
        {
            paths.AddRange(Directory.GetFiles(directory, "*.safetensors").Order(StringComparer.Ordinal));
        }
        if (paths.Count == 0)
        {
            string hint = File.Exists(Path.Combine(directory, "pytorch_model.bin"))
                ? " It has pytorch_model.bin, but SharpGPT reads only safetensors (pickle files can run code)."
                : "";
            throw new CheckpointException($"{directory}: no model.safetensors, {IndexFile} or *.safetensors found.{hint}");
        }
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (string path in paths)
            {
                files.Add(SafetensorsFile.Open(path));
            }
        }
        catch
        {
            files.ForEach(f => f.Dispose());
            throw;
        }
        return files;
    }

    private static IEnumerable<string> ReadShardIndex(string indexPath, string directory)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (!document.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{indexPath}: missing the 'weight_map' object.");
            }
            var shards = new SortedSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                string? file = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                // A shard must be a plain file name inside the model folder: no paths, no traversal.
                if (string.IsNullOrEmpty(file) || file != Path.GetFileName(file) || file is "." or "..")
                {
                    throw new CheckpointException($"{indexPath}: tensor '{entry.Name}' points at an invalid shard name '{file}'.");
                }
                shards.Add(file);
            }
            return shards.Select(s => Path.Combine(directory, s)).ToList();
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"{indexPath}: not valid JSON ({ex.Message}).", ex);
        }
    }

    private static Dictionary<string, (SafetensorsFile, SafetensorsEntry)> BuildIndex(List<SafetensorsFile> files)
    {
        var index = new Dictionary<string, (SafetensorsFile, SafetensorsEntry)>(StringComparer.Ordinal);
        foreach (SafetensorsFile file in files)
        {
            foreach ((string name, SafetensorsEntry entry) in file.Tensors)
            {
                if (index.TryGetValue(name, out var existing))
                {
                    throw new CheckpointException($"Tensor '{name}' appears in both {existing.Item1.Path} and {file.Path}.");
                }
                index[name] = (file, entry);
            }
        }
        return index;
    }

    /// <summary>Finds a tensor under its save_pretrained name or the bare name older GPT-2 files use.</summary>
    private static (SafetensorsFile, SafetensorsEntry) Find(Dictionary<string, (SafetensorsFile, SafetensorsEntry)> index, string name,
        string directory, string internalName)
    {
        if (index.TryGetValue(name, out var hit) || index.TryGetValue(StripPrefix(name), out hit))
        {
            return hit;
        }
        throw new CheckpointException($"{directory}: tensor '{name}' (SharpGPT '{internalName}') is missing from the safetensors files.");
    }

    private static string StripPrefix(string name) =>
        name.StartsWith(HfWeightMap.Prefix, StringComparison.Ordinal) ? name[HfWeightMap.Prefix.Length..] : name;

    /// <summary>Reads an [rows, cols] tensor into [cols, rows] order.</summary>
    private static void ReadTransposed(SafetensorsFile file, SafetensorsEntry entry, Span<float> destination, int rows, int cols)
    {
        float[] buffer = ArrayPool<float>.Shared.Rent(rows * cols);
        try
        {
            Span<float> source = buffer.AsSpan(0, rows * cols);
            file.ReadFloat32(entry, source);
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    destination[c * rows + r] = source[r * cols + c];
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private static void CheckFinite(ReadOnlySpan<float> values, string path, string name)
    {
        int bad = System.Numerics.Tensors.TensorPrimitives.IndexOfMaxMagnitude(values);
        if (bad >= 0 && !float.IsFinite(values[bad]))
        {
            throw new CheckpointException($"{path}: tensor '{name}' contains NaN or infinite values.");
        }
    }

    private static void CheckTiedHead(SafetensorsFile file, SafetensorsEntry entry, GptModel model)
    {
        ReadOnlySpan<float> wte = model.Tensor("wte");
        if (entry.ElementCount != wte.Length)
        {
            throw new CheckpointException($"{file.Path}: lm_head.weight has shape {entry.ShapeText}, which does not match the tied embedding.");
        }
        float[] head = ArrayPool<float>.Shared.Rent(wte.Length);
        try
        {
            file.ReadFloat32(entry, head.AsSpan(0, wte.Length));
            if (!head.AsSpan(0, wte.Length).SequenceEqual(wte))
            {
                throw new CheckpointException($"{file.Path}: lm_head.weight differs from the token embedding; untied output heads are not supported.");
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(head);
        }
    }
}
