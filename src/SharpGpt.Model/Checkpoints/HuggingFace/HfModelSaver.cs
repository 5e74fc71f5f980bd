using System.Text.Json.Nodes;
using SharpGpt.Model.Checkpoints.Quantized;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Tokenization;
using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Model.Checkpoints.HuggingFace;

/// <summary>
/// Writes a model in the Hugging Face layout (config.json, model.safetensors with save_pretrained names,
/// the tokenizer files), so that transformers' from_pretrained, and SharpGPT's own loader, read it back.
/// Every file is written atomically. A quantized model saves its quantized matrices instead of the fp32 ones
/// (<see cref="SaveQuantized"/>, <see cref="QuantizedCheckpoint"/>), which only SharpGPT reads.
/// </summary>
public static class HfModelSaver
{
    public static void Save(GptModel model, string directory, Gpt2Tokenizer? tokenizer = null, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        model.ThrowIfFloatMatricesReleased("save the model");
        Write(model, directory, tokenizer, dtype, metadata, quantized: null);
    }

    /// <summary>
    /// Saves a quantized model: its fp32 embeddings, LayerNorms and biases under their usual names, and its quantized
    /// matrices (no fp32 copies), so loading the folder needs neither the fp32 weights nor the time to quantize them.
    /// config.json gets a quantization_config, so that transformers refuses the folder instead of loading it wrongly.
    /// </summary>
    public static void SaveQuantized(GptModel model, string directory, Gpt2Tokenizer? tokenizer = null)
    {
        QuantizedWeights weights = model.Quantized ?? throw new ArgumentException("The model is not quantized; call Quantize first.", nameof(model));
        Write(model, directory, tokenizer, SafetensorsDType.F32,
            new Dictionary<string, string> { [QuantizedCheckpoint.MetadataKey] = QuantizedCheckpoint.KindName(weights.Kind) }, weights);
    }

    private static void Write(GptModel model, string directory, Gpt2Tokenizer? tokenizer, SafetensorsDType dtype,
        IReadOnlyDictionary<string, string>? metadata, QuantizedWeights? quantized)
    {
        Directory.CreateDirectory(directory);
        var sources = new List<SafetensorsTensorSource>();
        foreach (HfMapping mapping in HfWeightMap.For(model.Layout))
        {
            if (quantized != null && QuantizedWeights.IsSource(mapping.Tensor))
            {
                continue;
            }
            foreach (HfPart part in mapping.Parts)
            {
                ParameterTensor tensor = mapping.Tensor;
                sources.Add(new SafetensorsTensorSource(part.Name, part.Shape, (start, chunk) =>
                {
                    ReadOnlySpan<float> values = model.Tensor(tensor.Name).Slice((int)part.Offset, (int)part.ElementCount);
                    if (!part.Transpose)
                    {
                        values.Slice((int)start, chunk.Length).CopyTo(chunk);
                        return;
                    }
                    // SharpGPT [out, in] → Conv1D [in, out]; part.Shape is the Conv1D shape [rows, cols].
                    int rows = (int)part.Shape[0], cols = (int)part.Shape[1];
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        long index = start + i;
                        int r = (int)(index / cols), c = (int)(index % cols);
                        chunk[i] = values[c * rows + r];
                    }
                }));
            }
        }
        var allMetadata = new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "SharpGPT" };
        if (metadata != null)
        {
            foreach ((string key, string value) in metadata)
            {
                allMetadata[key] = value;
            }
        }
        SafetensorsWriter.Write(Path.Combine(directory, HfModelLoader.WeightsFile), sources, dtype, allMetadata,
            quantized == null ? null : QuantizedCheckpoint.Tensors(quantized, model.Layout));
        JsonObject? quantization = quantized == null ? null : new JsonObject
        {
            ["quant_method"] = "sharpgpt",
            ["format"] = QuantizedCheckpoint.KindName(quantized.Kind),
            ["bits"] = QuantizedCheckpoint.Bits(quantized.Kind),
            ["group_size"] = QuantizedMatrix.GroupSize,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, HfModelLoader.ConfigFile), HfConfig.Write(model.Config, TorchDtypeName(dtype), quantization));
        tokenizer?.Save(directory, model.Config.ContextLength);
    }

    private static string TorchDtypeName(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F16 => "float16",
        SafetensorsDType.BF16 => "bfloat16",
        _ => "float32",
    };
}
