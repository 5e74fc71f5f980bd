using System.Runtime.Intrinsics;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>Hyper-parameters of one AdamW step. Step is 1-based (the bias corrections use βᵗ).</summary>
public readonly record struct AdamWStep(float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, int Step, float GradientScale = 1f);

/// <summary>
/// Decoupled-weight-decay Adam (Loshchilov and Hutter), in PyTorch's order:
/// p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; p ← p − lr·m̂/(√v̂ + ε).
/// The gradient is multiplied by GradientScale first (global-norm clipping folds in here).
/// </summary>
public static unsafe class AdamW
{
    private const int ElementsPerTask = 1 << 15;

    /// <summary>Updates parameters, first and second moments (all of length n) in place from gradients.</summary>
    public static void Update(float* parameters, float* gradients, float* m, float* v, long count, AdamWStep step)
    {
        if (step.Step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), "AdamW steps are counted from 1.");
        }
        AdamArgs args = new()
        {
            Parameters = parameters, Gradients = gradients, M = m, V = v, Count = count,
            LearningRate = step.LearningRate, Beta1 = step.Beta1, Beta2 = step.Beta2, Epsilon = step.Epsilon,
            Decay = 1f - step.LearningRate * step.WeightDecay,
            Correction1 = 1f / (1f - MathF.Pow(step.Beta1, step.Step)),
            Correction2 = 1f / (1f - MathF.Pow(step.Beta2, step.Step)),
            GradientScale = step.GradientScale,
        };
        WorkerPool.Shared.Run((int)((count + ElementsPerTask - 1) / ElementsPerTask), &Task, &args);
    }

    private struct AdamArgs
    {
        public float* Parameters, Gradients, M, V;
        public long Count;
        public float LearningRate, Beta1, Beta2, Epsilon, Decay, Correction1, Correction2, GradientScale;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref AdamArgs a = ref *(AdamArgs*)argsPointer;
        long start = (long)task * ElementsPerTask;
        int n = (int)Math.Min(ElementsPerTask, a.Count - start);
        float* p = a.Parameters + start, g = a.Gradients + start, m = a.M + start, v = a.V + start;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(a.Beta1);
            var b2 = Vector512.Create(a.Beta2);
            var oneMinusB1 = Vector512.Create(1f - a.Beta1);
            var oneMinusB2 = Vector512.Create(1f - a.Beta2);
            var c1 = Vector512.Create(a.Correction1);
            var c2 = Vector512.Create(a.Correction2);
            var eps = Vector512.Create(a.Epsilon);
            var lr = Vector512.Create(a.LearningRate);
            var decay = Vector512.Create(a.Decay);
            var scale = Vector512.Create(a.GradientScale);
            for (; i + 16 <= n; i += 16)
            {
                var grad = Vector512.Load(g + i) * scale;
                var mi = b1 * Vector512.Load(m + i) + oneMinusB1 * grad;
                var vi = b2 * Vector512.Load(v + i) + oneMinusB2 * grad * grad;
                mi.Store(m + i);
                vi.Store(v + i);
                var update = (mi * c1) / (Vector512.Sqrt(vi * c2) + eps);
                (Vector512.Load(p + i) * decay - lr * update).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float grad = g[i] * a.GradientScale;
            float mi = a.Beta1 * m[i] + (1f - a.Beta1) * grad;
            float vi = a.Beta2 * v[i] + (1f - a.Beta2) * grad * grad;
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] * a.Decay - a.LearningRate * (mi * a.Correction1) / (MathF.Sqrt(vi * a.Correction2) + a.Epsilon);
        }
    }
}
