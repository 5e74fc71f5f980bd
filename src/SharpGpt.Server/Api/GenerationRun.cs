using System.Threading.Channels;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Inference.Scoring;
using SharpGpt.Inference.Serving;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Api;

/// <summary>The outcome of one generated sequence, gathered from the engine's events.</summary>
public sealed class RunResult
{
    public IReadOnlyList<TokenScore?>? PromptScores { get; set; }
    public List<GenerationEvent> Tokens { get; } = [];
    public FinishReason Finish { get; set; } = FinishReason.Length;

    public string Text => string.Concat(Tokens.Select(t => t.Text));

    /// <summary>Mean log-probability per token, how best_of ranks candidates.</summary>
    public double MeanLogprob => Tokens.Count == 0 ? double.NegativeInfinity : Tokens.Average(t => t.Logprob);
}

/// <summary>
/// One sequence submitted to a model's engine on behalf of an HTTP request: validates the length against the
/// context, submits (429 with Retry-After when the queue is full), and exposes the event stream. The request's
/// abort token and the per-request timeout both cancel it, which frees its KV slot within one step.
/// </summary>
public sealed class GenerationRun
{
    private GenerationRun(int choiceIndex, int promptIndex, int[] prompt, string promptText, ChannelReader<EngineEvent> events)
    {
        ChoiceIndex = choiceIndex;
        PromptIndex = promptIndex;
        Prompt = prompt;
        PromptText = promptText;
        Events = events;
    }

    public int ChoiceIndex { get; }
    public int PromptIndex { get; }
    public int[] Prompt { get; }
    public string PromptText { get; }
    public ChannelReader<EngineEvent> Events { get; }

    /// <summary>Tokens for a prompt given as text or ids; an empty prompt is &lt;|endoftext|&gt;, as in OpenAI's API.</summary>
    public static (int[] Tokens, string Text) Tokenize(ServedModel model, string? text, int[]? tokens)
    {
        if (tokens != null)
        {
            return (tokens, model.Model.Tokenizer?.Decode(tokens) ?? "");
        }
        var tokenizer = model.Model.Tokenizer ?? throw ApiError.BadRequest($"Model '{model.Id}' has no tokenizer; send the prompt as token ids.", "prompt");
        int[] ids = tokenizer.Encode(text!);
        return (ids.Length == 0 ? [model.Model.Config.EndOfTextTokenId] : ids, text!);
    }

    /// <summary>max_tokens after the context check: null means "as many as fit".</summary>
    public static int ResolveMaxTokens(ServedModel model, int promptLength, int? maxTokens, string param = "max_tokens")
    {
        int context = model.Engine.MaxContext;
        int requested = maxTokens ?? Math.Max(0, context - promptLength);
        if (promptLength + requested > context || promptLength > context)
        {
            throw ApiError.BadRequest(
                $"This model's maximum context length is {context} tokens, however you requested {promptLength + requested} tokens " +
                $"({promptLength} in your prompt; {requested} for the completion). Please reduce your prompt or completion length.",
                param, "context_length_exceeded");
        }
        return requested;
    }

    public static GenerationRun Submit(ServedModel model, int choiceIndex, int promptIndex, int[] prompt, string promptText,
        GenerationOptions options, bool scorePrompt, int promptTopLogprobs, CancellationToken cancellation)
    {
        var request = new EngineRequest { Prompt = prompt, Options = options, ScorePrompt = scorePrompt, PromptTopLogprobs = promptTopLogprobs };
        ChannelReader<EngineEvent>? events;
        try
        {
            events = model.Engine.TrySubmit(request, cancellation);
        }
        catch (Model.SharpGptException ex)
        {
            throw ApiError.BadRequest(ex.Message, "prompt");
        }
        if (events == null)
        {
            throw new ApiError(429, $"The server is at capacity ({model.Engine.Options.QueueLength} requests waiting); retry shortly.", "rate_limit_exceeded",
                code: "rate_limit_exceeded") { RetryAfterSeconds = 1 };
        }
        return new GenerationRun(choiceIndex, promptIndex, prompt, promptText, events);
    }

    /// <summary>Seeds for the samples of one prompt: seed, seed + 1, …, so n &gt; 1 with a seed is reproducible.</summary>
    public static SamplingOptions ForSample(SamplingOptions sampling, int sample) =>
        sampling.Seed is ulong seed ? sampling with { Seed = seed + (ulong)sample } : sampling;

    /// <summary>Reads all events of the run (non-streaming responses).</summary>
    public async Task<RunResult> CollectAsync(CancellationToken cancellation)
    {
        var result = new RunResult();
        await foreach (EngineEvent e in Events.ReadAllAsync(cancellation))
        {
            switch (e)
            {
                case PromptScored scored:
                    result.PromptScores = scored.Scores;
                    break;
                case TokenGenerated generated:
                    result.Tokens.Add(generated.Token);
                    break;
                case Completed completed:
                    result.Finish = completed.Reason;
                    break;
            }
        }
        return result;
    }

    public static string FinishName(FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";
}
