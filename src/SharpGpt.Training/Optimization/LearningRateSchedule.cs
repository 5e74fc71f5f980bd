namespace SharpGpt.Training.Optimization;

/// <summary>
/// GPT-3's schedule (Appendix B): linear warm-up to the peak over <see cref="WarmupSteps"/>, then cosine
/// decay to <see cref="MinimumRatio"/> × peak (10%) by <see cref="DecaySteps"/>, then held there.
/// lr(s) = peak·(s+1)/W for s &lt; W; peak·(r + (1 − r)·½(1 + cos(π·(s − W)/(D − W)))) for W ≤ s &lt; D; peak·r after.
/// </summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int DecaySteps, double MinimumRatio = 0.1)
{
    public double At(int step)
    {
        if (step < WarmupSteps)
        {
            return Peak * (step + 1) / WarmupSteps;
        }
        if (step >= DecaySteps || DecaySteps <= WarmupSteps)
        {
            return Peak * MinimumRatio;
        }
        double progress = (double)(step - WarmupSteps) / (DecaySteps - WarmupSteps);
        return Peak * (MinimumRatio + (1 - MinimumRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
