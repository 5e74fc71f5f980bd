using SharpGpt.Model;
using SharpGpt.Model.Training;
using SharpGpt.Training.Planning;

namespace SharpGpt.Cli.Commands;

/// <summary>
/// Refuses a training configuration that cannot fit in this machine's memory before anything is allocated,
/// using the planner's ZeRO arithmetic for model state (fp32: 4 + 4 + 8 bytes per parameter) and the training
/// graph's exact activation size, and says what would fit instead.
/// </summary>
internal static class MemoryCheck
{
    public static void Require(GptConfig config, int batch, int time, int ranks, int stage)
    {
        long parameters = ParameterLayout.CountParameters(config);
        PlanResult plan = TrainingPlanner.Plan(new PlanInput { Parameters = parameters, Ranks = ranks, ZeroStage = stage, Precision = PlanPrecision.Float32 });
        long activations = TrainingGraph.ActivationBytesFor(config, batch, time);
        double needed = plan.ModelStateBytes + activations;
        // Every rank of a single-machine job shares this machine's memory.
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)ranks;
        if (needed <= available)
        {
            return;
        }
        string advice = "";
        for (int b = batch - 1; b >= 1; b--)
        {
            if (plan.ModelStateBytes + TrainingGraph.ActivationBytesFor(config, b, time) <= available)
            {
                advice = $" A micro-batch of {b} would fit.";
                break;
            }
        }
        if (advice.Length == 0 && stage < 3)
        {
            advice = " Even a micro-batch of 1 does not fit; shard more state with a higher --zero stage on more ranks, or shorten --seq.";
        }
        throw new SharpGptException(
            $"{config.Name} with batch {batch}×{time} needs {needed / 1e9:F1} GB per rank ({plan.ModelStateBytes / 1e9:F1} GB weights, gradients and Adam moments; " +
            $"{activations / 1e9:F1} GB activations) but about {available / 1e9:F1} GB is available.{advice}");
    }
}
