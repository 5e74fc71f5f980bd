using SharpGpt.Tensors.Kernels;

namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.AdamW"/>, written as in torch.optim.AdamW, in double precision.</summary>
public static class ReferenceAdamW
{
    public static void Update(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> m, Span<float> v, AdamWStep step)
    {
        double bias1 = 1 - Math.Pow(step.Beta1, step.Step);
        double bias2 = 1 - Math.Pow(step.Beta2, step.Step);
        for (int i = 0; i < parameters.Length; i++)
        {
            double g = (double)gradients[i] * step.GradientScale;
            double p = parameters[i] * (1.0 - (double)step.LearningRate * step.WeightDecay);
            double mi = step.Beta1 * (double)m[i] + (1 - (double)step.Beta1) * g;
            double vi = step.Beta2 * (double)v[i] + (1 - (double)step.Beta2) * g * g;
            m[i] = (float)mi;
            v[i] = (float)vi;
            parameters[i] = (float)(p - step.LearningRate * (mi / bias1) / (Math.Sqrt(vi / bias2) + step.Epsilon));
        }
    }
}
