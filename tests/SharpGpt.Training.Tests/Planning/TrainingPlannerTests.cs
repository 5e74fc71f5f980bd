using SharpGpt.Model;
using SharpGpt.Training.Planning;
using Xunit;

namespace SharpGpt.Training.Tests.Planning;

public class TrainingPlannerTests
{
    [Theory]
    // ZeRO paper (Rajbhandari et al. 2019), Table 1: Ψ = 7.5B, N_d = 64, K = 12, mixed precision.
    [InlineData(0, 120.0)]
    [InlineData(1, 31.4)]
    [InlineData(2, 16.6)]
    [InlineData(3, 1.9)]
    public void ReproducesZeroTable1(int stage, double gigabytes)
    {
        PlanResult plan = TrainingPlanner.Plan(new PlanInput { Parameters = 7.5e9, Ranks = 64, ZeroStage = stage, Precision = PlanPrecision.Mixed });
        // The paper prints one decimal (1.875 → 1.9).
        Assert.Equal(gigabytes, Math.Round(plan.ModelStateBytes / 1e9, 1));
    }

    [Fact]
    public void ReproducesGpt3TrainingCompute()
    {
        GptConfig config = GptPresets.Get("gpt3-175b");
        PlanResult plan = TrainingPlanner.Plan(new PlanInput { Parameters = ParameterLayout.CountParameters(config), Config = config, Tokens = 300e9 });
        // GPT-3 paper: about 3.14e23 FLOPs (3,640 PF-days) for 175B over 300B tokens.
        Assert.InRange(plan.TotalFlops!.Value, 3.10e23, 3.18e23);
        Assert.InRange(plan.TotalFlops!.Value / 8.64e19, 3600, 3680);
    }

    [Fact]
    public void CommunicationIs2PsiThen3PsiForStage3()
    {
        var input = new PlanInput { Parameters = 1e9, Ranks = 8, Precision = PlanPrecision.Mixed };
        Assert.Equal(2 * 2e9, TrainingPlanner.Plan(input with { ZeroStage = 2 }).CommunicationBytesPerStep);
        Assert.Equal(3 * 2e9, TrainingPlanner.Plan(input with { ZeroStage = 3 }).CommunicationBytesPerStep);
        Assert.Equal(0, TrainingPlanner.Plan(input with { Ranks = 1 }).CommunicationBytesPerStep);
    }

    [Fact]
    public void SaysWhatWouldFit()
    {
        GptConfig config = GptPresets.Get("gpt3-13b");
        var input = new PlanInput { Parameters = ParameterLayout.CountParameters(config), Config = config, Ranks = 8, DeviceMemoryBytes = 40e9 };
        Assert.True(TrainingPlanner.Plan(input).TotalBytes > 40e9);
        Assert.Contains("ZeRO stage", TrainingPlanner.Advice(input));
        Assert.Throws<SharpGptException>(() => TrainingPlanner.Plan(input with { ZeroStage = 4 }));
    }
}
