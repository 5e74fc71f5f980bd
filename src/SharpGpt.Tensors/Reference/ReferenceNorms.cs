namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.Norms"/>.</summary>
public static class ReferenceNorms
{
    public static double SumOfSquares(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values)
        {
            sum += (double)v * v;
        }
        return sum;
    }
}
