namespace SharpGpt.Model;

/// <summary>Attention pattern of one layer.</summary>
public enum AttentionKind
{
    /// <summary>Dense causal attention over every earlier position ("global" in GPT-Neo).</summary>
    Global,
    /// <summary>Locally banded causal attention over the last WindowSize positions (GPT-3's sparse layers, GPT-Neo "local").</summary>
    Local,
}
