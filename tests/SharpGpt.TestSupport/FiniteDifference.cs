using SharpGpt.Tensors.Random;

namespace SharpGpt.TestSupport;

/// <summary>
/// Finite-difference checks of backward passes. For a scalar loss L(x), the analytic gradient g must
/// satisfy ⟨g, u⟩ ≈ (L(x + h·u) − L(x − h·u)) / 2h for random directions u (central differences,
/// truncation error O(h²)), and the same for single coordinates.
/// </summary>
public static class FiniteDifference
{
    /// <summary>
    /// Step for fp32 kernels: with h = 1e-2 the O(h²) truncation error is about 1e-4 relative, while the
    /// fp32 rounding noise of L (≈1e-7·|L|·√n) divided by 2h stays well below that for n ≤ 10⁵.
    /// </summary>
    public const float Step = 1e-2f;

    /// <summary>
    /// Tolerance on the relative gap between the analytic and numeric directional derivative. The two error
    /// sources above add to a few 1e-4; 5e-3 leaves margin while still catching any wrong term
    /// (a missing or doubled term shifts the derivative by tens of percent).
    /// </summary>
    public const double RelativeTolerance = 5e-3;

    /// <summary>
    /// Checks <paramref name="gradient"/> = ∂loss/∂<paramref name="input"/> along random directions and coordinates.
    /// <paramref name="loss"/> is evaluated with <paramref name="input"/> perturbed in place and must not keep state.
    /// </summary>
    /// <param name="step">
    /// The perturbation size. Whole-model checks perturb thousands of parameters at once, so they pass a smaller
    /// step (the perturbation's norm grows like √n) to stay in the linear regime.
    /// </param>
    public static void Check(float[] input, float[] gradient, Func<double> loss, string what, int directions = 3, int coordinates = 4, ulong seed = 7,
        float step = Step)
    {
        Rng rng = new(seed);
        for (int d = 0; d < directions; d++)
        {
            float[] u = TestArrays.Uniform(rng, input.Length);
            double analytic = TestArrays.Dot(gradient, u);
            double numeric = Directional(input, u, loss, step);
            NumericAssert.RelativelyClose(numeric, analytic, RelativeTolerance, FloorFor(gradient), $"{what}: directional derivative {d}");
        }
        for (int c = 0; c < Math.Min(coordinates, input.Length); c++)
        {
            int index = rng.NextInt(input.Length);
            float[] u = new float[input.Length];
            u[index] = 1f;
            double numeric = Directional(input, u, loss, step);
            NumericAssert.RelativelyClose(numeric, gradient[index], 20 * RelativeTolerance, FloorFor(gradient), $"{what}: ∂L/∂x[{index}]");
        }
    }

    private static double Directional(float[] input, float[] direction, Func<double> loss, float step)
    {
        float[] saved = (float[])input.Clone();
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = saved[i] + step * direction[i];
        }
        double plus = loss();
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = saved[i] - step * direction[i];
        }
        double minus = loss();
        Array.Copy(saved, input, input.Length);
        return (plus - minus) / (2.0 * step);
    }

    /// <summary>
    /// An absolute floor (1% of ‖g‖₂) so that derivatives near zero are judged against the gradient's overall
    /// scale instead of their own tiny magnitude, where fp32 rounding would dominate.
    /// </summary>
    private static double FloorFor(float[] gradient)
    {
        double norm = 0;
        foreach (float g in gradient)
        {
            norm += (double)g * g;
        }
        return Math.Max(1e-6, 1e-2 * Math.Sqrt(norm));
    }
}
