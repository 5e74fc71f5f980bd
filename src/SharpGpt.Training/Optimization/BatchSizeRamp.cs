namespace SharpGpt.Training.Optimization;

/// <summary>
/// GPT-3's batch-size ramp: the batch grows linearly (in tokens) from <see cref="StartTokens"/> to the full
/// batch over the first <see cref="RampTokens"/> tokens of training. Realised as the number of micro-batches
/// accumulated per step. A ramp of 0 tokens means the full batch from the start.
/// </summary>
public sealed record BatchSizeRamp(long StartTokens, long RampTokens)
{
    public static BatchSizeRamp None { get; } = new(0, 0);

    /// <summary>Micro-batches to accumulate at this point of training (between 1 and <paramref name="fullMicroBatches"/>).</summary>
    public int MicroBatches(long tokensSeen, int fullMicroBatches, long tokensPerMicroBatch)
    {
        if (RampTokens <= 0 || tokensSeen >= RampTokens)
        {
            return fullMicroBatches;
        }
        double fullTokens = (double)fullMicroBatches * tokensPerMicroBatch;
        double tokens = StartTokens + (fullTokens - StartTokens) * tokensSeen / RampTokens;
        return (int)Math.Clamp(Math.Round(tokens / tokensPerMicroBatch), 1, fullMicroBatches);
    }
}
