namespace SharpGpt.Model;

/// <summary>
/// Which Hugging Face family the weights follow. It decides tensor names and layouts on import/export
/// and two numerical conventions: GPT-2 scales attention scores by 1/√d_head and has q/k/v biases;
/// GPT-Neo does neither (its scale is folded into training).
/// </summary>
public enum ModelFamily
{
    Gpt2,
    GptNeo,
}
