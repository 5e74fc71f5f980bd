namespace SharpGpt.Model.Lora;

/// <summary>A linear layer of a block that can carry a low-rank adapter.</summary>
public enum LoraTarget
{
    /// <summary>The fused q/k/v projection (attn.qkv).</summary>
    Qkv,
    /// <summary>The attention output projection (attn.proj).</summary>
    AttentionOutput,
    /// <summary>The MLP up-projection (mlp.fc).</summary>
    MlpUp,
    /// <summary>The MLP down-projection (mlp.proj).</summary>
    MlpDown,
}

/// <summary>LoRA hyper-parameters (Hu et al. 2021): ΔW = (alpha / rank) · B · A, with B initialised to zero.</summary>
public sealed record LoraSettings
{
    public int Rank { get; init; } = 8;

    public float Alpha { get; init; } = 16;

    public LoraTarget[] Targets { get; init; } = Enum.GetValues<LoraTarget>();

    public float Scale => Alpha / Rank;

    public LoraSettings Validate()
    {
        if (Rank < 1 || Rank > 1024)
        {
            throw new SharpGptException($"LoRA rank {Rank} must be between 1 and 1024.");
        }
        if (!(Alpha > 0) || !float.IsFinite(Alpha))
        {
            throw new SharpGptException("LoRA alpha must be positive.");
        }
        if (Targets.Length == 0)
        {
            throw new SharpGptException("LoRA needs at least one target layer.");
        }
        return this;
    }
}
