namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.Embedding"/>.</summary>
public static class ReferenceEmbedding
{
    public static void Forward(Span<float> output, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions,
        ReadOnlySpan<float> wte, ReadOnlySpan<float> wpe, int channels)
    {
        for (int r = 0; r < tokens.Length; r++)
        {
            for (int i = 0; i < channels; i++)
            {
                output[r * channels + i] = wte[tokens[r] * channels + i] + wpe[positions[r] * channels + i];
            }
        }
    }

    public static void Backward(Span<float> dWte, Span<float> dWpe, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> tokens,
        ReadOnlySpan<int> positions, int channels)
    {
        for (int r = 0; r < tokens.Length; r++)
        {
            for (int i = 0; i < channels; i++)
            {
                dWte[tokens[r] * channels + i] += dOutput[r * channels + i];
                dWpe[positions[r] * channels + i] += dOutput[r * channels + i];
            }
        }
    }
}
