using SharpGpt.Inference.Sampling;

namespace SharpGpt.Inference.Generation;

/// <summary>What to generate and when to stop.</summary>
public sealed record GenerationOptions
{
    public int MaxTokens { get; init; } = 16;

    /// <summary>Up to four strings; generation stops before the first one that appears (it is not returned).</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Stop when the model emits &lt;|endoftext|&gt;.</summary>
    public bool StopAtEndOfText { get; init; } = true;

    /// <summary>How many alternatives to return with each token's log-probability (0–5).</summary>
    public int TopLogprobs { get; init; }

    public SamplingOptions Sampling { get; init; } = new();
}

/// <summary>Why generation ended, with the OpenAI API's names.</summary>
public enum FinishReason
{
    /// <summary>max_tokens or the context length was reached.</summary>
    Length,
    /// <summary>A stop sequence or &lt;|endoftext|&gt; was produced.</summary>
    Stop,
}

/// <summary>A token alternative with its log-probability.</summary>
public readonly record struct TokenLogprob(int Token, double Logprob);

/// <summary>
/// One generated token: its id, the text it released (possibly empty while a character or a possible stop
/// sequence is incomplete), and its log-probability under the model (before sampling adjustments).
/// The last event of a generation carries the finish reason and any remaining text.
/// </summary>
public sealed record GenerationEvent(int Token, string Text, double Logprob, IReadOnlyList<TokenLogprob>? TopLogprobs, FinishReason? Finish);
