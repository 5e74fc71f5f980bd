namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.Residual"/>.</summary>
public static class ReferenceResidual
{
    public static void Forward(Span<float> output, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        for (int i = 0; i < output.Length; i++)
        {
            output[i] = a[i] + b[i];
        }
    }

    public static void Backward(Span<float> dA, Span<float> dB, ReadOnlySpan<float> dOutput)
    {
        for (int i = 0; i < dOutput.Length; i++)
        {
            dA[i] += dOutput[i];
            dB[i] += dOutput[i];
        }
    }
}
