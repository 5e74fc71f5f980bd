using SharpGpt.Training.Optimization;
using Xunit;

namespace SharpGpt.Training.Tests.Optimization;

public class ScheduleTests
{
    [Theory]
    [InlineData(0, 6e-4 * 1 / 10)]          // warm-up: peak·(s+1)/W
    [InlineData(4, 6e-4 * 5 / 10)]
    [InlineData(9, 6e-4)]                   // end of warm-up reaches the peak
    [InlineData(10, 6e-4)]                  // cosine at progress 0
    [InlineData(55, 6e-4 * (0.1 + 0.9 * 0.5))] // progress ½: cos(π/2) = 0 → halfway between peak and floor
    [InlineData(100, 6e-5)]                 // end of decay: 10% of peak
    [InlineData(5000, 6e-5)]                // held at the floor
    public void LearningRateFollowsWarmupThenCosineToTenPercent(int step, double expected)
    {
        var schedule = new LearningRateSchedule(6e-4, WarmupSteps: 10, DecaySteps: 100);
        Assert.Equal(expected, schedule.At(step), 12);
    }

    [Fact]
    public void CosineMatchesItsFormulaEverywhere()
    {
        var schedule = new LearningRateSchedule(1.0, 20, 220, 0.1);
        for (int step = 20; step < 220; step += 7)
        {
            double progress = (step - 20) / 200.0;
            Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)), schedule.At(step), 12);
        }
    }

    [Fact]
    public void BatchRampGrowsLinearlyInTokens()
    {
        // Full batch: 8 micro-batches of 4096 tokens = 32768; ramp from 8192 tokens over 1M tokens.
        var ramp = new BatchSizeRamp(StartTokens: 8192, RampTokens: 1_000_000);
        Assert.Equal(2, ramp.MicroBatches(0, 8, 4096));
        Assert.Equal(5, ramp.MicroBatches(500_000, 8, 4096));   // 8192 + 24576·½ = 20480 tokens
        Assert.Equal(8, ramp.MicroBatches(1_000_000, 8, 4096));
        Assert.Equal(8, BatchSizeRamp.None.MicroBatches(0, 8, 4096));
        Assert.Equal(1, new BatchSizeRamp(100, 1000).MicroBatches(0, 8, 4096));
    }
}
