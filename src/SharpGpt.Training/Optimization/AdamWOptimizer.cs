using SharpGpt.Model;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Training.Optimization;

/// <summary>AdamW hyper-parameters; GPT-3 defaults (β 0.9/0.95, ε 1e-8, weight decay 0.1 on matrices).</summary>
public sealed record AdamWSettings(double Beta1 = 0.9, double Beta2 = 0.95, double Epsilon = 1e-8, double WeightDecay = 0.1,
    double GradientClip = 1.0, bool DecayAllTensors = false);

/// <summary>
/// AdamW over the flat parameter buffer, with its first and second moments laid out the same way.
/// Weight decay applies to matrices only (not biases, LayerNorm parameters or embeddings), as in GPT-3's
/// recipe. Before each step the gradient is scaled so that its global L2 norm is at most GradientClip.
/// </summary>
public sealed unsafe class AdamWOptimizer : IDisposable
{
    private readonly (long Offset, long Length, bool Decay)[] _groups;

    public AdamWOptimizer(IReadOnlyList<ParameterTensor> tensors, long totalFloats, AdamWSettings settings)
    {
        Settings = settings;
        Length = totalFloats;
        M = new NativeBuffer(Length);
        V = new NativeBuffer(Length);
        // Merge neighbouring tensors with the same decay rule into ranges, padding included (its gradient is 0).
        var groups = new List<(long, long, bool)>();
        foreach (ParameterTensor tensor in tensors)
        {
            bool decay = settings.DecayAllTensors || tensor.Kind == ParameterKind.Matrix;
            if (groups.Count > 0 && groups[^1].Item3 == decay)
            {
                groups[^1] = (groups[^1].Item1, tensor.Offset + tensor.Length - groups[^1].Item1, decay);
            }
            else
            {
                groups.Add((tensor.Offset, tensor.Length, decay));
            }
        }
        _groups = [.. groups];
    }

    public AdamWSettings Settings { get; }

    public long Length { get; }

    /// <summary>First moments.</summary>
    public NativeBuffer M { get; }

    /// <summary>Second moments.</summary>
    public NativeBuffer V { get; }

    /// <summary>Steps taken (the bias corrections use it).</summary>
    public int StepCount { get; set; }

    /// <summary>Global L2 norm of a gradient buffer.</summary>
    public static double GlobalNorm(NativeBuffer gradients) => Math.Sqrt(Norms.SumOfSquares(gradients.Pointer, gradients.Length));

    /// <summary>
    /// Clips (by the precomputed global norm) and applies one AdamW step; returns the clip scale used.
    /// </summary>
    public double Step(NativeBuffer parameters, NativeBuffer gradients, double learningRate, double gradientNorm)
    {
        double scale = Settings.GradientClip > 0 && gradientNorm > Settings.GradientClip ? Settings.GradientClip / gradientNorm : 1.0;
        StepCount++;
        foreach ((long offset, long length, bool decay) in _groups)
        {
            AdamW.Update(parameters.Pointer + offset, gradients.Pointer + offset, M.Pointer + offset, V.Pointer + offset, length,
                new AdamWStep((float)learningRate, (float)Settings.Beta1, (float)Settings.Beta2, (float)Settings.Epsilon,
                    decay ? (float)Settings.WeightDecay : 0f, StepCount, (float)scale));
        }
        return scale;
    }

    public void Dispose()
    {
        M.Dispose();
        V.Dispose();
    }
}
