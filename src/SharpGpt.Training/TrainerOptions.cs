using SharpGpt.Training.Optimization;

namespace SharpGpt.Training;

/// <summary>Settings of a training run (pretraining or fine-tuning). Saved in every checkpoint.</summary>
public sealed record TrainerOptions
{
    public required string OutputDirectory { get; init; }

    /// <summary>Optimizer steps to run in total.</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>Micro-batches accumulated per optimizer step at full batch size.</summary>
    public int AccumulationSteps { get; init; } = 1;

    public double LearningRate { get; init; } = 6e-4;

    public int WarmupSteps { get; init; } = 100;

    /// <summary>Step at which the cosine decay reaches its floor; default: the last step.</summary>
    public int? DecaySteps { get; init; }

    public double MinimumLearningRateRatio { get; init; } = 0.1;

    public AdamWSettings Adam { get; init; } = new();

    public BatchSizeRamp Ramp { get; init; } = BatchSizeRamp.None;

    /// <summary>Evaluate validation loss every this many steps (0 = only at the end).</summary>
    public int EvalInterval { get; init; } = 100;

    public int CheckpointInterval { get; init; } = 100;

    public int KeepCheckpoints { get; init; } = 3;

    /// <summary>Stop after this many evaluations without a new best validation loss (0 = never).</summary>
    public int EarlyStoppingPatience { get; init; }

    public ulong Seed { get; init; } = 1;

    /// <summary>A label for the plot and logs.</summary>
    public string RunName { get; init; } = "run";

    public LearningRateSchedule Schedule => new(LearningRate, WarmupSteps, DecaySteps ?? Steps, MinimumLearningRateRatio);

    public void Validate()
    {
        if (Steps < 1 || AccumulationSteps < 1 || WarmupSteps < 0 || EvalInterval < 0 || CheckpointInterval < 0 || KeepCheckpoints < 1)
        {
            throw new Model.SharpGptException("steps and accumulation must be at least 1; intervals must not be negative.");
        }
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new Model.SharpGptException("the learning rate must be positive.");
        }
    }
}

/// <summary>A live snapshot for the console.</summary>
public readonly record struct TrainingProgress(int Step, int TotalSteps, double Loss, double LearningRate, double TokensPerSecond,
    TimeSpan Elapsed, TimeSpan Remaining, double? ValidationLoss);

/// <summary>How a run ended.</summary>
public sealed record TrainingResult(int Step, IReadOnlyList<double> Losses, double BestValidationLoss, int BestStep, bool Interrupted,
    bool StoppedEarly, string? LastCheckpoint);

/// <summary>Training produced a NaN or infinite loss or gradient; nothing of that step was applied or saved.</summary>
public sealed class TrainingDivergedException(string message) : Model.SharpGptException(message);
