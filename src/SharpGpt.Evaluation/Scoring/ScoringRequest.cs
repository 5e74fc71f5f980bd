namespace SharpGpt.Evaluation.Scoring;

/// <summary>One context and the continuations whose log-likelihood given it is wanted.</summary>
public sealed record ScoringRequest(string Context, IReadOnlyList<string> Continuations);
