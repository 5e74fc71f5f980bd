namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Geometry of multi-head causal self-attention. Window 0 means dense (every earlier position);
/// a positive window W lets position t attend to positions t−W+1 … t (W positions, itself included),
/// the locally banded layers of GPT-3 and GPT-Neo. Scale multiplies q·k (1/√d_head for GPT-2, 1 for GPT-Neo).
/// </summary>
public readonly record struct AttentionShape(int Heads, int HeadDim, int Window, float Scale)
{
    public int Channels => Heads * HeadDim;

    /// <summary>First position visible from position t.</summary>
    public int FirstVisible(int t) => Window > 0 ? Math.Max(0, t - Window + 1) : 0;
}
