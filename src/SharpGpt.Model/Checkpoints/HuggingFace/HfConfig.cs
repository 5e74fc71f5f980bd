using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpGpt.Model.Checkpoints.HuggingFace;

/// <summary>
/// Reads and writes Hugging Face config.json for GPT2LMHeadModel ("gpt2") and GPTNeoForCausalLM ("gpt_neo").
/// GPT-Neo's attention_types such as [[["global","local"], 6]] expand to a per-layer list.
/// </summary>
public static class HfConfig
{
    public static GptConfig Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new CheckpointException($"{path}: config.json not found; a Hugging Face model folder needs one.");
        }
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new CheckpointException($"{path}: config.json must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"{path}: config.json is not valid JSON ({ex.Message}).", ex);
        }
        string modelType = GetString(root, "model_type") ?? "";
        try
        {
            GptConfig config = modelType switch
            {
                "gpt2" => ReadGpt2(root),
                "gpt_neo" => ReadGptNeo(root),
                _ => throw new SharpGptException(
                    $"unsupported architecture '{(modelType.Length == 0 ? "(no model_type)" : modelType)}'; SharpGPT loads model_type 'gpt2' and 'gpt_neo'."),
            };
            string activation = GetString(root, "activation_function") ?? "gelu_new";
            if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
            {
                throw new SharpGptException($"activation '{activation}' is not supported; GPT-2 and GPT-Neo use gelu_new.");
            }
            if (root["tie_word_embeddings"] is JsonValue tie && tie.TryGetValue(out bool tied) && !tied)
            {
                throw new SharpGptException($"untied input and output embeddings are not supported (tie_word_embeddings is false).");
            }
            return config.Validate();
        }
        catch (SharpGptException ex)
        {
            throw new CheckpointException($"{path}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or JsonException)
        {
            throw new CheckpointException($"{path}: a field has the wrong type ({ex.Message}).", ex);
        }
    }

    private static GptConfig ReadGpt2(JsonObject root)
    {
        int embedding = GetInt(root, "n_embd") ?? 768;
        return new GptConfig
        {
            Name = GetString(root, "_name_or_path") is { Length: > 0 } n ? Path.GetFileName(n.TrimEnd('/')) : "gpt2",
            Family = ModelFamily.Gpt2,
            VocabSize = GetInt(root, "vocab_size") ?? 50257,
            ContextLength = GetInt(root, "n_positions") ?? GetInt(root, "n_ctx") ?? 1024,
            EmbeddingSize = embedding,
            LayerCount = GetInt(root, "n_layer") ?? 12,
            HeadCount = GetInt(root, "n_head") ?? 12,
            FeedForwardSize = GetInt(root, "n_inner") ?? 4 * embedding,
            LayerNormEpsilon = (float)(GetDouble(root, "layer_norm_epsilon") ?? 1e-5),
            ScaleAttention = GetBool(root, "scale_attn_weights") ?? true,
            ScaleAttentionByInverseLayerIndex = GetBool(root, "scale_attn_by_inverse_layer_idx") ?? false,
            QkvBias = true,
            EndOfTextTokenId = GetInt(root, "eos_token_id") ?? 50256,
        };
    }

    private static GptConfig ReadGptNeo(JsonObject root)
    {
        int embedding = GetInt(root, "hidden_size") ?? 2048;
        int layers = GetInt(root, "num_layers") ?? 24;
        return new GptConfig
        {
            Name = "gpt-neo",
            Family = ModelFamily.GptNeo,
            VocabSize = GetInt(root, "vocab_size") ?? 50257,
            ContextLength = GetInt(root, "max_position_embeddings") ?? 2048,
            EmbeddingSize = embedding,
            LayerCount = layers,
            HeadCount = GetInt(root, "num_heads") ?? 16,
            FeedForwardSize = GetInt(root, "intermediate_size") ?? 4 * embedding,
            LayerNormEpsilon = (float)(GetDouble(root, "layer_norm_epsilon") ?? 1e-5),
            AttentionLayers = ReadAttentionLayers(root, layers),
            WindowSize = GetInt(root, "window_size") ?? 256,
            ScaleAttention = false,
            QkvBias = false,
            EndOfTextTokenId = GetInt(root, "eos_token_id") ?? 50256,
        };
    }

    private static AttentionKind[] ReadAttentionLayers(JsonObject root, int layers)
    {
        var kinds = new List<AttentionKind>();
        if (root["attention_types"] is JsonArray types)
        {
            // [[["global", "local"], 12]]: each item repeats a pattern.
            foreach (JsonNode? item in types)
            {
                if (item is not JsonArray { Count: 2 } pair || pair[0] is not JsonArray pattern)
                {
                    throw new SharpGptException("attention_types must look like [[[\"global\",\"local\"], n]].");
                }
                int repeat = pair[1]!.GetValue<int>();
                for (int r = 0; r < repeat; r++)
                {
                    foreach (JsonNode? kind in pattern)
                    {
                        kinds.Add(ParseKind(kind!.GetValue<string>()));
                    }
                }
            }
        }
        else if (root["attention_layers"] is JsonArray list)
        {
            kinds.AddRange(list.Select(k => ParseKind(k!.GetValue<string>())));
        }
        else
        {
            for (int l = 0; l < layers; l++)
            {
                kinds.Add(l % 2 == 0 ? AttentionKind.Global : AttentionKind.Local);
            }
        }
        if (kinds.Count != layers)
        {
            throw new SharpGptException($"attention_types describe {kinds.Count} layers but num_layers is {layers}.");
        }
        return [.. kinds];
    }

    private static AttentionKind ParseKind(string kind) => kind switch
    {
        "global" => AttentionKind.Global,
        "local" => AttentionKind.Local,
        _ => throw new SharpGptException($"unknown attention type '{kind}' (expected 'global' or 'local')."),
    };

    /// <summary>The config.json that Hugging Face transformers expects for this model.</summary>
    /// <param name="torchDtype">Hugging Face's name for the stored weight type ("float32", "float16", "bfloat16").</param>
    /// <param name="quantization">The quantization_config of a quantized folder, if any.</param>
    public static string Write(GptConfig config, string torchDtype = "float32", JsonObject? quantization = null)
    {
        JsonObject root = config.Family switch
        {
            ModelFamily.Gpt2 => new JsonObject
            {
                ["architectures"] = new JsonArray("GPT2LMHeadModel"),
                ["model_type"] = "gpt2",
                ["vocab_size"] = config.VocabSize,
                ["n_positions"] = config.ContextLength,
                ["n_ctx"] = config.ContextLength,
                ["n_embd"] = config.EmbeddingSize,
                ["n_layer"] = config.LayerCount,
                ["n_head"] = config.HeadCount,
                ["n_inner"] = config.FeedForwardSize == 4 * config.EmbeddingSize ? null : config.FeedForwardSize,
                ["activation_function"] = "gelu_new",
                ["resid_pdrop"] = 0.0,
                ["embd_pdrop"] = 0.0,
                ["attn_pdrop"] = 0.0,
                ["layer_norm_epsilon"] = config.LayerNormEpsilon,
                ["initializer_range"] = 0.02,
                ["scale_attn_weights"] = config.ScaleAttention,
                ["scale_attn_by_inverse_layer_idx"] = config.ScaleAttentionByInverseLayerIndex,
                ["reorder_and_upcast_attn"] = false,
                ["bos_token_id"] = config.EndOfTextTokenId,
                ["eos_token_id"] = config.EndOfTextTokenId,
                ["tie_word_embeddings"] = true,
                ["use_cache"] = true,
                ["torch_dtype"] = torchDtype,
            },
            _ => new JsonObject
            {
                ["architectures"] = new JsonArray("GPTNeoForCausalLM"),
                ["model_type"] = "gpt_neo",
                ["vocab_size"] = config.VocabSize,
                ["max_position_embeddings"] = config.ContextLength,
                ["hidden_size"] = config.EmbeddingSize,
                ["num_layers"] = config.LayerCount,
                ["num_heads"] = config.HeadCount,
                ["attention_types"] = CompressAttentionTypes(config),
                ["window_size"] = config.WindowSize,
                ["intermediate_size"] = config.FeedForwardSize == 4 * config.EmbeddingSize ? null : config.FeedForwardSize,
                ["activation_function"] = "gelu_new",
                ["resid_dropout"] = 0.0,
                ["embed_dropout"] = 0.0,
                ["attention_dropout"] = 0.0,
                ["layer_norm_epsilon"] = config.LayerNormEpsilon,
                ["initializer_range"] = 0.02,
                ["bos_token_id"] = config.EndOfTextTokenId,
                ["eos_token_id"] = config.EndOfTextTokenId,
                ["tie_word_embeddings"] = true,
                ["use_cache"] = true,
                ["torch_dtype"] = torchDtype,
            },
        };
        if (quantization != null)
        {
            root["quantization_config"] = quantization;
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>[[["global","local"], n]] when layers alternate; otherwise one entry per layer.</summary>
    private static JsonArray CompressAttentionTypes(GptConfig config)
    {
        string Name(int layer) => config.AttentionKindOf(layer) == AttentionKind.Local ? "local" : "global";
        bool alternating = config.LayerCount % 2 == 0
            && Enumerable.Range(0, config.LayerCount).All(l => Name(l) == (l % 2 == 0 ? "global" : "local"));
        if (alternating)
        {
            return new JsonArray(new JsonArray(new JsonArray("global", "local"), config.LayerCount / 2));
        }
        var result = new JsonArray();
        for (int l = 0; l < config.LayerCount; l++)
        {
            result.Add(new JsonArray(new JsonArray(Name(l)), 1));
        }
        return result;
    }

    private static string? GetString(JsonObject root, string key) =>
        root[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static int? GetInt(JsonObject root, string key) => root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out int i) => i,
        JsonValue v when v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue => (int)d,
        var other => throw new SharpGptException($"config field '{key}' must be an integer, not {other.ToJsonString()}."),
    };

    private static double? GetDouble(JsonObject root, string key) => root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out double d) => d,
        var other => throw new SharpGptException($"config field '{key}' must be a number, not {other.ToJsonString()}."),
    };

    private static bool? GetBool(JsonObject root, string key) => root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        var other => throw new SharpGptException($"config field '{key}' must be true or false, not {other.ToJsonString()}."),
    };
}
