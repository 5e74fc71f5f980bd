using System.Text.Json.Serialization;

namespace SharpGpt.Model;

/// <summary>
/// The complete description of a decoder-only GPT. Everything else (parameter layout, buffers, KV cache
/// sizes, checkpoint names) is derived from it, and the resolved config is saved with every checkpoint.
/// </summary>
public sealed record GptConfig
{
    /// <summary>Human-readable name, e.g. a preset name.</summary>
    public string Name { get; init; } = "custom";

    /// <summary>Where the numbers come from.</summary>
    public string Description { get; init; } = "";

    /// <summary>Hugging Face family: decides names, layouts and the attention-scale/q-k-v-bias conventions.</summary>
    public ModelFamily Family { get; init; } = ModelFamily.Gpt2;

    /// <summary>Vocabulary size (50257 for the GPT-2/GPT-3 BPE).</summary>
    public int VocabSize { get; init; } = 50257;

    /// <summary>Maximum sequence length: rows of the learned position embedding (n_ctx).</summary>
    public int ContextLength { get; init; } = 1024;

    /// <summary>Residual stream width (d_model, n_embd).</summary>
    public int EmbeddingSize { get; init; } = 768;

    /// <summary>Number of transformer blocks.</summary>
    public int LayerCount { get; init; } = 12;

    /// <summary>Attention heads per layer; EmbeddingSize must be divisible by it.</summary>
    public int HeadCount { get; init; } = 12;

    /// <summary>Hidden width of the MLP (d_ff); 4·d_model for every GPT-2/GPT-3 size.</summary>
    public int FeedForwardSize { get; init; } = 3072;

    /// <summary>LayerNorm ε.</summary>
    public float LayerNormEpsilon { get; init; } = 1e-5f;

    /// <summary>Per-layer attention pattern; empty means every layer is dense.</summary>
    public AttentionKind[] AttentionLayers { get; init; } = [];

    /// <summary>Positions a local layer attends to, the current one included.</summary>
    public int WindowSize { get; init; } = 256;

    /// <summary>Scale attention scores by 1/√d_head (GPT-2: true; GPT-Neo: false).</summary>
    public bool ScaleAttention { get; init; } = true;

    /// <summary>Also scale scores by 1/(layer index + 1) (a rarely used GPT-2 option).</summary>
    public bool ScaleAttentionByInverseLayerIndex { get; init; }

    /// <summary>Whether the fused q/k/v projection has a bias (GPT-2: true; GPT-Neo: false).</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>Token id of &lt;|endoftext|&gt;, which ends generation.</summary>
    public int EndOfTextTokenId { get; init; } = 50256;

    [JsonIgnore]
    public int HeadDim => EmbeddingSize / HeadCount;

    /// <summary>Attention pattern of layer <paramref name="layer"/>.</summary>
    public AttentionKind AttentionKindOf(int layer) =>
        AttentionLayers.Length == 0 ? AttentionKind.Global : AttentionLayers[layer];

    /// <summary>Window of layer <paramref name="layer"/> for the kernels: 0 for dense layers.</summary>
    public int WindowOf(int layer) => AttentionKindOf(layer) == AttentionKind.Local ? WindowSize : 0;

    /// <summary>Multiplier of q·k in layer <paramref name="layer"/>.</summary>
    public float AttentionScaleOf(int layer)
    {
        float scale = ScaleAttention ? 1f / MathF.Sqrt(HeadDim) : 1f;
        return ScaleAttentionByInverseLayerIndex ? scale / (layer + 1) : scale;
    }

    [JsonIgnore]
    public bool HasLocalLayers => AttentionLayers.Contains(AttentionKind.Local);

    /// <summary>Checks internal consistency; throws <see cref="SharpGptException"/> naming the bad field.</summary>
    public GptConfig Validate()
    {
        Require(VocabSize > 0, "vocab size must be positive");
        Require(ContextLength > 0, "context length must be positive");
        Require(EmbeddingSize > 0 && LayerCount > 0 && HeadCount > 0 && FeedForwardSize > 0, "sizes must be positive");
        Require(EmbeddingSize % HeadCount == 0, $"embedding size {EmbeddingSize} is not divisible by {HeadCount} heads");
        Require(AttentionLayers.Length == 0 || AttentionLayers.Length == LayerCount,
            $"{AttentionLayers.Length} attention layer kinds given for {LayerCount} layers");
        Require(!HasLocalLayers || WindowSize > 0, "local attention needs a positive window size");
        Require(LayerNormEpsilon > 0 && float.IsFinite(LayerNormEpsilon), "layer-norm epsilon must be positive");
        // Each family's Hugging Face class fixes these conventions; keeping them makes every model exportable.
        Require(Family != ModelFamily.Gpt2 || (!HasLocalLayers && QkvBias),
            "the GPT-2 family has dense layers only and q/k/v biases (use the GPT-Neo family for local attention)");
        Require(Family != ModelFamily.GptNeo || (!QkvBias && !ScaleAttention && !ScaleAttentionByInverseLayerIndex),
            "the GPT-Neo family has no q/k/v biases and no attention-score scaling");
        Require(EndOfTextTokenId >= 0 && EndOfTextTokenId < VocabSize, $"end-of-text id {EndOfTextTokenId} is outside the vocabulary");
        return this;

        void Require(bool condition, string message)
        {
            if (!condition)
            {
                throw new SharpGptException($"Invalid model config '{Name}': {message}.");
            }
        }
    }
}
