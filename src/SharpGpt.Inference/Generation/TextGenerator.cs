using SharpGpt.Inference.Sampling;
using SharpGpt.Inference.Scoring;
using SharpGpt.Model;
using SharpGpt.Model.Inference;
using SharpGpt.Tensors.Kernels;

namespace SharpGpt.Inference.Generation;

/// <summary>
/// Streams the continuation of one prompt: prefill in chunks, then sample, decode and check stop
/// conditions token by token over the KV cache.
/// </summary>
public sealed class TextGenerator
{
    private readonly LanguageModel _model;

    public TextGenerator(LanguageModel model) => _model = model;

    /// <summary>Encodes the prompt (an empty prompt means &lt;|endoftext|&gt;, as in the OpenAI API) and generates.</summary>
    public IEnumerable<GenerationEvent> Generate(IInferenceSession session, int slot, string prompt, GenerationOptions options,
        CancellationToken cancellation = default)
    {
        int[] ids = _model.RequireTokenizer().Encode(prompt);
        return Generate(session, slot, ids, options, cancellation);
    }

    public IEnumerable<GenerationEvent> Generate(IInferenceSession session, int slot, IReadOnlyList<int> prompt, GenerationOptions options,
        CancellationToken cancellation = default)
    {
        GptConfig config = _model.Config;
        int[] promptIds = prompt.Count == 0 ? [config.EndOfTextTokenId] : prompt.ToArray();
        if (promptIds.Length >= session.MaxContext)
        {
            throw new SharpGptException($"The prompt has {promptIds.Length} tokens; the context holds {session.MaxContext}, so there is no room to generate.");
        }
        if (options.MaxTokens < 0 || options.TopLogprobs is < 0 or > 20)
        {
            throw new SharpGptException("max tokens must be non-negative and top logprobs between 0 and 20.");
        }
        var sampler = new TokenSampler(options.Sampling, config.VocabSize);
        var decoder = _model.Tokenizer == null ? null : new IncrementalDecoder(_model.Tokenizer);
        var stops = new StopSequenceMatcher(options.Stop);

        session.Reset(slot);
        for (int start = 0; start < promptIds.Length; start += session.MaxTokensPerStep)
        {
            cancellation.ThrowIfCancellationRequested();
            int length = Math.Min(session.MaxTokensPerStep, promptIds.Length - start);
            bool last = start + length == promptIds.Length;
            session.Step([new SequenceChunk(slot, promptIds.AsMemory(start, length), last ? LogitsRequest.Last : LogitsRequest.None)]);
        }
        if (options.MaxTokens == 0)
        {
            yield break;
        }

        int[] next = new int[1];
        for (int generated = 1; ; generated++)
        {
            cancellation.ThrowIfCancellationRequested();
            ReadOnlySpan<float> logits = session.Logits(0);
            int token = sampler.Sample(logits);
            double lse = SoftmaxCrossEntropy.LogSumExp(logits);
            double logprob = logits[token] - lse;
            TokenLogprob[]? top = options.TopLogprobs > 0 ? Logprobs.Top(logits, options.TopLogprobs, lse) : null;

            if (options.StopAtEndOfText && token == config.EndOfTextTokenId)
            {
                yield return new GenerationEvent(token, stops.Push(decoder?.Flush() ?? "") + stops.Flush(), logprob, top, FinishReason.Stop);
                yield break;
            }
            string text = stops.Push(decoder?.Push(token) ?? "");
            if (stops.Stopped)
            {
                yield return new GenerationEvent(token, text, logprob, top, FinishReason.Stop);
                yield break;
            }
            if (generated >= options.MaxTokens || session.Length(slot) + 1 >= session.MaxContext)
            {
                text += stops.Push(decoder?.Flush() ?? "");
                yield return new GenerationEvent(token, stops.Stopped ? text : text + stops.Flush(), logprob, top,
                    stops.Stopped ? FinishReason.Stop : FinishReason.Length);
                yield break;
            }
            yield return new GenerationEvent(token, text, logprob, top, null);
            next[0] = token;
            session.Step([new SequenceChunk(slot, next, LogitsRequest.Last, Decoding: true)]);
        }
    }
}
