namespace SharpGpt.Inference.Sampling;

/// <summary>
/// How the next token is chosen from the logits. Processing order (as Hugging Face and OpenAI apply it):
/// logit bias → presence/frequency penalties → temperature → top-k → top-p → draw.
/// Temperature 0 is greedy decoding (argmax), which ignores top-k, top-p and the seed.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>0 (greedy) to 2; 1 leaves the distribution unchanged.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 disables.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>OpenAI semantics: logit[j] −= presence · (count[j] &gt; 0), over generated tokens; −2 to 2.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI semantics: logit[j] −= frequency · count[j], over generated tokens; −2 to 2.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Added to the logits of the given token ids before anything else (−100 to 100).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Seed of the request's own random generator; null draws one.</summary>
    public ulong? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };

    public bool IsGreedy => Temperature == 0f;

    /// <summary>Checks the ranges the OpenAI API documents; returns null or a message naming the parameter.</summary>
    public string? Validate()
    {
        if (!(Temperature >= 0 && Temperature <= 2))
        {
            return "temperature must be between 0 and 2";
        }
        if (TopK < 0)
        {
            return "top_k must be 0 (off) or positive";
        }
        if (!(TopP > 0 && TopP <= 1))
        {
            return "top_p must be greater than 0 and at most 1";
        }
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
        {
            return "presence_penalty must be between -2 and 2";
        }
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
        {
            return "frequency_penalty must be between -2 and 2";
        }
        if (LogitBias != null && LogitBias.Values.Any(b => !(b >= -100 && b <= 100)))
        {
            return "logit_bias values must be between -100 and 100";
        }
        return null;
    }
}
