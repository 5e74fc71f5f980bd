using System.Diagnostics;

namespace SharpGpt.Model;

/// <summary>The kinds of work in a training or inference step, for <see cref="StepProfile"/>.</summary>
public enum StepPhase
{
    Embedding,
    LayerNorm, // with the residual add fused in
    Linear,
    Attention,
    Gelu,
    Head, // lm_head (and in training softmax, cross-entropy and their backward)
    LinearBackward,
    AttentionBackward,
    GeluBackward,
    LayerNormBackward,
    EmbeddingBackward,
    Optimizer,
}

/// <summary>
/// Opt-in wall time per <see cref="StepPhase"/>, accumulated over steps: where a training or decoding step spends its
/// time (<c>sharpgpt bench --profile</c>). Lap-style, so each kernel call costs one timestamp and no allocation;
/// kernels are synchronous (the worker pool joins), so wall time is the kernel's time.
/// </summary>
public sealed class StepProfile
{
    private readonly long[] _ticks = new long[Enum.GetValues<StepPhase>().Length];
    private long _last;

    /// <summary>Starts a lap: the time until the next <see cref="Lap"/> is charged to that lap's phase.</summary>
    public void Start() => _last = Stopwatch.GetTimestamp();

    /// <summary>Charges the time since the last lap (or <see cref="Start"/>) to <paramref name="phase"/>.</summary>
    public void Lap(StepPhase phase)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[(int)phase] += now - _last;
        _last = now;
    }

    public void Clear() => Array.Clear(_ticks);

    public TimeSpan this[StepPhase phase] => Stopwatch.GetElapsedTime(0, _ticks[(int)phase]);

    public TimeSpan Total => Stopwatch.GetElapsedTime(0, _ticks.Sum());
}
