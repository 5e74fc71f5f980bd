using SharpGpt.Model;

namespace SharpGpt.Training.Planning;

/// <summary>Numeric formats of a run, as the ZeRO paper counts them.</summary>
public enum PlanPrecision
{
    /// <summary>fp16 weights and gradients, fp32 master weights + Adam moments (K = 12): the ZeRO paper's setting.</summary>
    Mixed,
    /// <summary>bf16 weights and gradients, fp32 master weights + Adam moments (K = 12).</summary>
    BFloat16,
    /// <summary>Everything fp32: 4-byte weights and gradients, Adam moments 8 bytes (K = 8, no separate master copy).</summary>
    Float32,
}

/// <summary>What a run is: model, parallelism and budget.</summary>
public sealed record PlanInput
{
    public required double Parameters { get; init; }
    public GptConfig? Config { get; init; }
    public int Ranks { get; init; } = 1;
    public int ZeroStage { get; init; }
    public int MicroBatch { get; init; } = 1;
    public int? SequenceLength { get; init; }
    public PlanPrecision Precision { get; init; } = PlanPrecision.Mixed;
    public double? Tokens { get; init; }
    /// <summary>Model FLOPs utilisation assumed for the time estimate.</summary>
    public double Mfu { get; init; } = 0.4;
    /// <summary>Peak FLOP/s of one device (default: an A100's 312 TFLOP/s dense bf16/fp16).</summary>
    public double DevicePeakFlops { get; init; } = 312e12;
    /// <summary>Memory per device, to say whether the run fits.</summary>
    public double? DeviceMemoryBytes { get; init; }
}

/// <summary>Bytes per device and the compute of a run.</summary>
public sealed record PlanResult(
    double ParameterBytes, double GradientBytes, double OptimizerBytes, double ActivationBytes, double ActivationBytesWithRecompute,
    double CommunicationBytesPerStep, double FlopsPerToken, double? TotalFlops, double? Seconds, double? DeviceHours)
{
    public double ModelStateBytes => ParameterBytes + GradientBytes + OptimizerBytes;
    public double TotalBytes => ModelStateBytes + ActivationBytes;
    public double TotalBytesWithRecompute => ModelStateBytes + ActivationBytesWithRecompute;
}

/// <summary>
/// The memory and compute calculator behind `sharpgpt plan` and the fit check of `sharpgpt train`.
/// Model states follow Rajbhandari et al. 2019 (ZeRO), Table 1: with Ψ parameters, 2Ψ weights + 2Ψ gradients +
/// KΨ optimizer states in mixed precision, of which stage 1 shards the optimizer states, stage 2 also the
/// gradients, stage 3 also the weights, over N_d ranks. Activations per layer follow Korthikanti et al. 2022
/// (s·b·h·(34 + 5·a·s/h) bytes at 16-bit; 2·s·b·h with full recomputation, keeping only layer inputs).
/// Compute is 6·N FLOPs per token (Kaplan et al. 2020; the GPT-3 paper's 3.14e23 for 175B over 300B tokens).
/// </summary>
public static class TrainingPlanner
{
    public static PlanResult Plan(PlanInput input)
    {
        if (input.Parameters <= 0 || input.Ranks < 1 || input.ZeroStage is < 0 or > 3 || input.MicroBatch < 1)
        {
            throw new SharpGptException("parameters must be positive, ranks at least 1, ZeRO stage 0–3 and micro-batch at least 1.");
        }
        double psi = input.Parameters, n = input.Ranks;
        (double weight, double gradient, double k) = input.Precision switch
        {
            PlanPrecision.Float32 => (4.0, 4.0, 8.0),
            _ => (2.0, 2.0, 12.0),
        };
        double parameters = input.ZeroStage >= 3 ? weight * psi / n : weight * psi;
        double gradients = input.ZeroStage >= 2 ? gradient * psi / n : gradient * psi;
        double optimizer = input.ZeroStage >= 1 ? k * psi / n : k * psi;

        // Activations, when the architecture is known: s·b·h·(34 + 5·a·s/h) bytes per layer at 16-bit (twice at fp32).
        double activations = 0, recomputed = 0;
        if (input.Config is GptConfig c)
        {
            double s = input.SequenceLength ?? c.ContextLength, b = input.MicroBatch, h = c.EmbeddingSize, a = c.HeadCount;
            double scale = input.Precision == PlanPrecision.Float32 ? 2 : 1;
            activations = scale * c.LayerCount * s * b * h * (34 + 5 * a * s / h);
            // Full recomputation keeps each layer's input (2·s·b·h bytes) plus one layer's working set.
            recomputed = scale * (c.LayerCount * 2 * s * b * h + s * b * h * (34 + 5 * a * s / h));
            // Logits of the output layer (s·b·V at 4 bytes, softmax in fp32) are held in both cases.
            activations += 4 * s * b * c.VocabSize;
            recomputed += 4 * s * b * c.VocabSize;
        }

        // Communication per step (ZeRO §7): all-reduce = reduce-scatter + all-gather = 2Ψ elements for stages 0–2;
        // stage 3 adds a second parameter all-gather for backward: 3Ψ. In bytes at the gradient precision.
        double elements = input.Ranks == 1 ? 0 : (input.ZeroStage >= 3 ? 3 : 2) * psi;
        double communication = elements * gradient;

        double flopsPerToken = 6 * psi;
        double? total = input.Tokens * flopsPerToken;
        double? seconds = total / (input.Ranks * input.DevicePeakFlops * input.Mfu);
        return new PlanResult(parameters, gradients, optimizer, activations, recomputed, communication, flopsPerToken, total, seconds,
            seconds * input.Ranks / 3600);
    }

    /// <summary>The largest ZeRO stage-independent fix that would fit: the smallest stage (and rank count) under the device memory.</summary>
    public static string? Advice(PlanInput input)
    {
        if (input.DeviceMemoryBytes is not double memory || Plan(input).TotalBytesWithRecompute <= memory)
        {
            return null;
        }
        for (int stage = input.ZeroStage; stage <= 3; stage++)
        {
            for (int ranks = input.Ranks; ranks <= input.Ranks * 1024; ranks *= 2)
            {
                PlanResult plan = Plan(input with { ZeroStage = stage, Ranks = ranks });
                if (plan.TotalBytes <= memory)
                {
                    return $"ZeRO stage {stage} on {ranks} ranks would fit ({plan.TotalBytes / 1e9:F1} GB per device)";
                }
                if (plan.TotalBytesWithRecompute <= memory)
                {
                    return $"ZeRO stage {stage} on {ranks} ranks with activation recomputation would fit ({plan.TotalBytesWithRecompute / 1e9:F1} GB per device)";
                }
            }
        }
        return "no ZeRO stage fits at this micro-batch; lower the micro-batch or sequence length";
    }
}
