namespace SharpGpt.Evaluation.Scoring;

/// <summary>The log-likelihood of one continuation given its context, with the counts normalisations need.</summary>
public sealed record ChoiceScore(double LogLikelihood, int Tokens, int Characters, bool IsGreedy);
