using System.Text.Json.Serialization;

namespace SharpGpt.Evaluation;

/// <summary>
/// What was scored for one example, enough for anyone to recompute every number with another implementation
/// (reference.md, "What an eval run should write").
/// </summary>
public sealed record ExampleResult
{
    [JsonPropertyName("task")] public required string Task { get; init; }
    [JsonPropertyName("shots")] public int Shots { get; init; }
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("contexts")] public required IReadOnlyList<string> Contexts { get; init; }
    [JsonPropertyName("continuations")] public required IReadOnlyList<string> Continuations { get; init; }
    [JsonPropertyName("loglikelihoods")] public IReadOnlyList<double>? LogLikelihoods { get; init; }
    [JsonPropertyName("token_counts")] public IReadOnlyList<int>? TokenCounts { get; init; }
    [JsonPropertyName("char_counts")] public IReadOnlyList<int>? CharCounts { get; init; }
    [JsonPropertyName("unconditional_loglikelihoods")] public IReadOnlyList<double>? UnconditionalLogLikelihoods { get; init; }
    [JsonPropertyName("is_greedy")] public bool? IsGreedy { get; init; }
    [JsonPropertyName("predicted")] public int? Predicted { get; init; }
    [JsonPropertyName("gold")] public int? Gold { get; init; }
    [JsonPropertyName("correct")] public bool Correct { get; init; }
    [JsonPropertyName("generated")] public string? Generated { get; init; }
    [JsonPropertyName("target")] public string? Target { get; init; }
    /// <summary>Per-metric values of this example (acc, acc_norm, …) that the table averages.</summary>
    [JsonPropertyName("metrics")] public required IReadOnlyDictionary<string, double> Metrics { get; init; }
}

/// <summary>The results of one task at one shot count.</summary>
public sealed record TaskResult(string Task, int Shots, string PrimaryMetric, IReadOnlyList<Metrics.MetricValue> Metrics,
    IReadOnlyList<ExampleResult> Examples, int ExamplesWithReducedShots, int MinimumShotsUsed, double Seconds);
