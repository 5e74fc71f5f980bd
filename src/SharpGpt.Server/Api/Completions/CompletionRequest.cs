using System.Text.Json;
using SharpGpt.Inference.Sampling;
using SharpGpt.Server.Errors;

namespace SharpGpt.Server.Api.Completions;

/// <summary>A prompt as sent: text, or token ids (lm-evaluation-harness sends ids).</summary>
public sealed record PromptInput(string? Text, int[]? Tokens);

/// <summary>A validated POST /v1/completions request (ranges and defaults as in OpenAI's CreateCompletionRequest).</summary>
public sealed record CompletionRequest
{
    public required string Model { get; init; }
    public required IReadOnlyList<PromptInput> Prompts { get; init; }
    public int? MaxTokens { get; init; }
    public int N { get; init; } = 1;
    public int BestOf { get; init; } = 1;
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public int? Logprobs { get; init; }
    public bool Echo { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public required SamplingOptions Sampling { get; init; }
    public string? User { get; init; }

    public static CompletionRequest Parse(RequestReader r, string? defaultModel, int vocabSize)
    {
        r.RejectUnsupported("suffix");
        string model = r.String("model") ?? defaultModel ?? throw ApiError.BadRequest("You must provide a model parameter.", "model");
        int n = r.Integer("n", 1, 128) ?? 1;
        int bestOf = r.Integer("best_of", 1, 20) ?? n;
        if (bestOf < n)
        {
            throw ApiError.BadRequest($"best_of ({bestOf}) must be at least n ({n}).", "best_of");
        }
        bool stream = r.Bool("stream", false);
        if (stream && bestOf > n)
        {
            throw ApiError.BadRequest("best_of cannot be used with stream.", "best_of");
        }
        bool includeUsage = false;
        if (r.Get("stream_options") is JsonElement streamOptions)
        {
            if (!stream)
            {
                throw ApiError.BadRequest("stream_options is only allowed with stream: true.", "stream_options");
            }
            if (streamOptions.ValueKind != JsonValueKind.Object)
            {
                throw ApiError.BadRequest("stream_options must be an object.", "stream_options");
            }
            includeUsage = new RequestReader(streamOptions).Bool("include_usage", false);
        }
        ulong? seed = ParseSeed(r);
        return new CompletionRequest
        {
            Model = model,
            Prompts = ParsePrompts(r.Get("prompt"), vocabSize),
            MaxTokens = r.Has("max_tokens") ? r.Integer("max_tokens", 0, int.MaxValue) : r.Root.TryGetProperty("max_tokens", out _) ? null : 16,
            N = n,
            BestOf = bestOf,
            Stream = stream,
            IncludeUsage = includeUsage,
            Logprobs = r.Integer("logprobs", 0, 5),
            Echo = r.Bool("echo", false),
            Stop = r.Stop(),
            User = r.String("user"),
            Sampling = ParseSampling(r, vocabSize, seed),
        };
    }

    /// <summary>temperature, top_p, top_k (an extension, as in vLLM), penalties, logit_bias and seed.</summary>
    public static SamplingOptions ParseSampling(RequestReader r, int vocabSize, ulong? seed)
    {
        var sampling = new SamplingOptions
        {
            Temperature = (float)(r.Number("temperature", 0, 2) ?? 1),
            TopP = (float)(r.Number("top_p", 0, 1) ?? 1),
            TopK = r.Integer("top_k", 0, vocabSize) ?? 0,
            PresencePenalty = (float)(r.Number("presence_penalty", -2, 2) ?? 0),
            FrequencyPenalty = (float)(r.Number("frequency_penalty", -2, 2) ?? 0),
            LogitBias = r.LogitBias(vocabSize),
            Seed = seed,
        };
        if (sampling.Validate() is string problem)
        {
            throw ApiError.BadRequest(problem + ".", problem.Split(' ')[0]);
        }
        return sampling;
    }

    public static ulong? ParseSeed(RequestReader r) => r.Get("seed") is JsonElement s
        ? s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long value) ? unchecked((ulong)value) : throw ApiError.BadRequest("'seed' must be an integer.", "seed")
        : null;

    /// <summary>prompt: a string, an array of strings, an array of token ids, or an array of such arrays; default &lt;|endoftext|&gt;.</summary>
    private static IReadOnlyList<PromptInput> ParsePrompts(JsonElement? prompt, int vocabSize)
    {
        if (prompt is not JsonElement p)
        {
            return [new PromptInput("<|endoftext|>", null)];
        }
        if (p.ValueKind == JsonValueKind.String)
        {
            return [new PromptInput(p.GetString()!, null)];
        }
        if (p.ValueKind != JsonValueKind.Array || p.GetArrayLength() == 0)
        {
            throw ApiError.BadRequest("'prompt' must be a string, an array of strings, an array of token ids, or an array of token-id arrays.", "prompt");
        }
        JsonElement first = p[0];
        if (first.ValueKind == JsonValueKind.Number)
        {
            return [new PromptInput(null, Tokens(p, vocabSize))];
        }
        var prompts = new List<PromptInput>();
        foreach (JsonElement item in p.EnumerateArray())
        {
            prompts.Add(item.ValueKind switch
            {
                JsonValueKind.String => new PromptInput(item.GetString()!, null),
                JsonValueKind.Array => new PromptInput(null, Tokens(item, vocabSize)),
                _ => throw ApiError.BadRequest("Each prompt must be a string or an array of token ids.", "prompt"),
            });
        }
        return prompts;
    }

    private static int[] Tokens(JsonElement array, int vocabSize)
    {
        if (array.GetArrayLength() == 0)
        {
            throw ApiError.BadRequest("A token-id prompt must not be empty.", "prompt");
        }
        return array.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.Number && t.TryGetInt32(out int id) && id >= 0 && id < vocabSize
            ? id
            : throw ApiError.BadRequest($"Token ids must be integers from 0 to {vocabSize - 1}; got {t.GetRawText()}.", "prompt")).ToArray();
    }
}
