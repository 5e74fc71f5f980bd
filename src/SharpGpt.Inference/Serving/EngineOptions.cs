using SharpGpt.Model;
using SharpGpt.Model.Inference;

namespace SharpGpt.Inference.Serving;

/// <summary>Capacity of a <see cref="GenerationEngine"/>, fixed at start-up.</summary>
public sealed record EngineOptions
{
    /// <summary>Sequences decoded together, each owning one KV-cache slot.</summary>
    public int MaxSequences { get; init; } = 8;

    /// <summary>Rows per batched model step: one per decoding sequence, the rest for prefill chunks.</summary>
    public int MaxTokensPerStep { get; init; } = 256;

    /// <summary>Positions per sequence (prompt + completion); default the model's context length.</summary>
    public int? MaxContext { get; init; }

    /// <summary>Requests that may wait for a free slot; beyond it, submissions are refused (HTTP 429).</summary>
    public int QueueLength { get; init; } = 64;

    /// <summary>Refuse to start if the KV cache and working buffers would exceed this many bytes.</summary>
    public long? MemoryBudgetBytes { get; init; }

    /// <summary>
    /// Bytes the KV cache and step buffers need for <paramref name="config"/>: computed before allocating, so that
    /// an impossible configuration fails at start-up with a message that says why.
    /// </summary>
    public long RequiredBytes(GptConfig config)
    {
        int context = MaxContext ?? config.ContextLength;
        long kv = KvCache.BytesPerSlot(config, context, MaxTokensPerStep) * MaxSequences;
        long rows = MaxTokensPerStep;
        long work = rows * (7L * config.EmbeddingSize + config.FeedForwardSize + config.VocabSize) * sizeof(float);
        return kv + work;
    }

    /// <summary>Checks the options against the model and the memory budget; throws a message naming the fix.</summary>
    public void Validate(GptConfig config)
    {
        int context = MaxContext ?? config.ContextLength;
        if (MaxSequences < 1 || MaxTokensPerStep < MaxSequences || QueueLength < 0)
        {
            throw new SharpGptException($"max batch ({MaxSequences}) must be at least 1, tokens per step ({MaxTokensPerStep}) at least the batch, and the queue length non-negative.");
        }
        if (context < 2 || context > config.ContextLength)
        {
            throw new SharpGptException($"max context {context} must be between 2 and the model's context length {config.ContextLength}.");
        }
        long needed = RequiredBytes(config);
        long budget = MemoryBudgetBytes ?? (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.8);
        if (needed > budget)
        {
            long perSlot = KvCache.BytesPerSlot(config, context, MaxTokensPerStep);
            int fits = (int)Math.Max(0, (budget - (needed - perSlot * MaxSequences)) / perSlot);
            throw new SharpGptException(
                $"the KV cache for {MaxSequences} sequences × {context} positions needs {needed / 1048576.0:F0} MiB ({perSlot / 1048576.0:F1} MiB per sequence), " +
                $"more than the {budget / 1048576.0:F0} MiB available; lower --max-batch (at most {fits} fit) or --max-context.");
        }
    }
}
