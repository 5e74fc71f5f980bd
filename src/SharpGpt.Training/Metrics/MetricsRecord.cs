using System.Text.Json.Serialization;

namespace SharpGpt.Training.Metrics;

/// <summary>One line of metrics.jsonl.</summary>
public sealed record MetricsRecord
{
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("loss")] public double? Loss { get; init; }
    [JsonPropertyName("lr")] public double? LearningRate { get; init; }
    [JsonPropertyName("grad_norm")] public double? GradientNorm { get; init; }
    [JsonPropertyName("batch_tokens")] public long? BatchTokens { get; init; }
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("tokens_per_s")] public double? TokensPerSecond { get; init; }
    [JsonPropertyName("elapsed_s")] public double ElapsedSeconds { get; init; }
    [JsonPropertyName("step_s")] public double? StepSeconds { get; init; }
    /// <summary>Rank 0's time inside collectives this step (transfer + waiting for slower ranks); absent on one process.</summary>
    [JsonPropertyName("comm_s")] public double? CommunicationSeconds { get; init; }
    [JsonPropertyName("val_loss")] public double? ValidationLoss { get; init; }
    [JsonPropertyName("val_ppl")] public double? ValidationPerplexity { get; init; }
    [JsonPropertyName("event")] public string? Event { get; init; }
}
