namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.MatMul"/>: y = x·Wᵀ + b with W [out, in], and its backward.</summary>
public static class ReferenceMatMul
{
    public static void Forward(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inChannels, int outChannels)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outChannels; o++)
            {
                double sum = bias.IsEmpty ? 0.0 : bias[o];
                for (int i = 0; i < inChannels; i++)
                {
                    sum += (double)input[r * inChannels + i] * weight[o * inChannels + i];
                }
                output[r * outChannels + o] = (float)sum;
            }
        }
    }

    /// <summary>dInput = dOut·W (overwritten); dWeight += dOutᵀ·x; dBias += Σ dOut.</summary>
    public static void Backward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput,
        ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int rows, int inChannels, int outChannels)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < inChannels; i++)
            {
                double sum = 0;
                for (int o = 0; o < outChannels; o++)
                {
                    sum += (double)dOutput[r * outChannels + o] * weight[o * inChannels + i];
                }
                dInput[r * inChannels + i] = (float)sum;
            }
        }
        for (int o = 0; o < outChannels; o++)
        {
            for (int i = 0; i < inChannels; i++)
            {
                double sum = dWeight[o * inChannels + i];
                for (int r = 0; r < rows; r++)
                {
                    sum += (double)dOutput[r * outChannels + o] * input[r * inChannels + i];
                }
                dWeight[o * inChannels + i] = (float)sum;
            }
            if (!dBias.IsEmpty)
            {
                double b = dBias[o];
                for (int r = 0; r < rows; r++)
                {
                    b += dOutput[r * outChannels + o];
                }
                dBias[o] = (float)b;
            }
        }
    }
}
