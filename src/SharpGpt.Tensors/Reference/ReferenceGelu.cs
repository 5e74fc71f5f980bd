namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.Gelu"/> (tanh approximation), in double precision.</summary>
public static class ReferenceGelu
{
    private static readonly double SqrtTwoOverPi = Math.Sqrt(2.0 / Math.PI);
    private const double Cubic = 0.044715;

    public static double Value(double x) => 0.5 * x * (1.0 + Math.Tanh(SqrtTwoOverPi * (x + Cubic * x * x * x)));

    public static double Derivative(double x)
    {
        double t = Math.Tanh(SqrtTwoOverPi * (x + Cubic * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SqrtTwoOverPi * (1.0 + 3.0 * Cubic * x * x);
    }

    public static void Forward(Span<float> output, ReadOnlySpan<float> input)
    {
        for (int i = 0; i < input.Length; i++)
        {
            output[i] = (float)Value(input[i]);
        }
    }

    public static void Backward(Span<float> dInput, ReadOnlySpan<float> input, ReadOnlySpan<float> dOutput)
    {
        for (int i = 0; i < input.Length; i++)
        {
            dInput[i] = (float)(Derivative(input[i]) * dOutput[i]);
        }
    }
}
