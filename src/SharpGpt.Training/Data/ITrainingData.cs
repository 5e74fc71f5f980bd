using System.Text.Json.Nodes;

namespace SharpGpt.Training.Data;

/// <summary>A micro-batch: B × T inputs and targets (−1 = no loss), row-major.</summary>
public sealed record MicroBatch(int[] Inputs, int[] Targets, int Batch, int Time)
{
    public int CountedTargets => Targets.Count(t => t >= 0);
}

/// <summary>Where training batches come from: pretraining windows or fine-tuning examples.</summary>
public interface ITrainingData
{
    /// <summary>Longest sequence a micro-batch can have.</summary>
    int MaxTime { get; }

    /// <summary>Rows per micro-batch.</summary>
    int MicroBatchSize { get; }

    /// <summary>The next training micro-batch.</summary>
    MicroBatch Next();

    /// <summary>The fixed validation set, in micro-batches (the same every time).</summary>
    IEnumerable<MicroBatch> Validation();

    /// <summary>The position in the data, for checkpoints.</summary>
    JsonNode SavePosition();

    void RestorePosition(JsonNode position);
}
