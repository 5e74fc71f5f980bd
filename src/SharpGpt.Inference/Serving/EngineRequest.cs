using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Scoring;

namespace SharpGpt.Inference.Serving;

/// <summary>One sequence to generate: prompt token ids, options, and whether to score the prompt (echo).</summary>
public sealed record EngineRequest
{
    public required IReadOnlyList<int> Prompt { get; init; }

    public GenerationOptions Options { get; init; } = new();

    /// <summary>Also return log P(token | prefix) for every prompt token (the first has none): echo with logprobs.</summary>
    public bool ScorePrompt { get; init; }

    /// <summary>Alternatives to return with each prompt token's score.</summary>
    public int PromptTopLogprobs { get; init; }
}

/// <summary>What an engine request streams back, in order.</summary>
public abstract record EngineEvent;

/// <summary>Scores of the prompt tokens (only when asked for); element 0 is null.</summary>
public sealed record PromptScored(IReadOnlyList<TokenScore?> Scores) : EngineEvent;

/// <summary>A generated token.</summary>
public sealed record TokenGenerated(GenerationEvent Token) : EngineEvent;

/// <summary>The end: why, and the token counts for usage.</summary>
public sealed record Completed(FinishReason Reason, int PromptTokens, int CompletionTokens) : EngineEvent;
