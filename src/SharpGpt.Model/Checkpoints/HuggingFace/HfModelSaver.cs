using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Model.Checkpoints.HuggingFace;

/// <summary>
/// Writes a model in the Hugging Face layout (config.json, model.safetensors with save_pretrained names,
/// the tokenizer files), so that transformers' from_pretrained, and SharpGPT's own loader, read it back.
/// Every file is written atomically.
/// </summary>
public static class HfModelSaver
{
    public static void Save(GptModel model, string directory, Gpt2Tokenizer? tokenizer = null, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        model.ThrowIfFloatMatricesReleased("save the model");
        Directory.CreateDirectory(directory);
        var sources = new List<SafetensorsTensorSource>();
        foreach (HfMapping mapping in HfWeightMap.For(model.Layout))
        {
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
        SafetensorsWriter.Write(Path.Combine(directory, HfModelLoader.WeightsFile), sources, dtype, allMetadata);
        AtomicFile.WriteAllText(Path.Combine(directory, HfModelLoader.ConfigFile), HfConfig.Write(model.Config, TorchDtypeName(dtype)));
        tokenizer?.Save(directory, model.Config.ContextLength);
    }

    private static string TorchDtypeName(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F16 => "float16",
        SafetensorsDType.BF16 => "bfloat16",
        _ => "float32",
    };
}
