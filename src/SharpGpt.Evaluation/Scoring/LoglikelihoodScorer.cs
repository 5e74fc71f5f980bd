using SharpGpt.Inference.Scoring;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Evaluation.Scoring;

/// <summary>
/// log P(continuation | context) for several continuations of one context, the way lm-evaluation-harness
/// tokenizes (encode(context + continuation); the continuation is what follows encode(context); trailing
/// whitespace of the context moves into the continuation). The shared context is run through the model once
/// and its KV cache copied to one slot per continuation, which are then scored together in batched steps.
/// Contexts too long for the model lose tokens from the left, as in lm-eval.
/// </summary>
public sealed class LoglikelihoodScorer
{
    private readonly IInferenceSession _session;
    private readonly Gpt2Tokenizer _tokenizer;

    public LoglikelihoodScorer(IInferenceSession session, Gpt2Tokenizer? tokenizer)
    {
        _session = session;
        _tokenizer = tokenizer!;
    }

    /// <summary>Continuations that can be scored at once (one slot is the shared context).</summary>
    public int MaxContinuations => _session.SlotCount - 1;

    public int MaxContext => _session.MaxContext;

    public int[] Encode(string text) => _tokenizer.Encode(text);

    public ChoiceScore[] Score(string context, IReadOnlyList<string> continuations)
    {
        var scores = new ChoiceScore[continuations.Count];
        // lm-eval: move the context's trailing whitespace into the continuation.
        string trimmed = context.TrimEnd();
        string moved = context[trimmed.Length..];
        int[] contextIds = trimmed.Length == 0 ? [_tokenizer.EndOfTextId] : _tokenizer.Encode(trimmed);
        var pairs = new (int[] Context, int[] Continuation)[continuations.Count];
        for (int i = 0; i < continuations.Count; i++)
        {
            string continuation = moved + continuations[i];
            int[] whole = trimmed.Length == 0 ? [_tokenizer.EndOfTextId, .. _tokenizer.Encode(continuation)] : _tokenizer.Encode(trimmed + continuation);
            int split = Math.Min(contextIds.Length, whole.Length - 1);
            pairs[i] = (whole[..split], whole[split..]);
        }
        // Continuations whose context tokens equal the shared context reuse its cache; others (a BPE merge
        // across the boundary) are scored with their own context.
        var shared = Enumerable.Range(0, pairs.Length).Where(i => pairs[i].Context.AsSpan().SequenceEqual(contextIds)).ToList();
        foreach (int[] group in shared.Chunk(Math.Max(1, MaxContinuations)))
        {
            ScoreGroup(contextIds, group.Select(i => pairs[i].Continuation).ToArray(), group, scores, continuations);
        }
        for (int i = 0; i < pairs.Length; i++)
        {
            if (!shared.Contains(i))
            {
                ScoreGroup(pairs[i].Context, [pairs[i].Continuation], [i], scores, continuations);
            }
        }
        return scores;
    }

    /// <summary>The same on token ids: continuation i scored after the shared context (character counts are 0).</summary>
    public ChoiceScore[] ScoreTokens(int[] context, IReadOnlyList<int[]> continuations)
    {
        if (context.Length == 0 || continuations.Any(c => c.Length == 0))
        {
            throw new ArgumentException("The context and every continuation need at least one token.");
        }
        var scores = new ChoiceScore[continuations.Count];
        string[] empty = continuations.Select(_ => "").ToArray();
        foreach (int[] group in Enumerable.Range(0, continuations.Count).Chunk(Math.Max(1, MaxContinuations)))
        {
            ScoreGroup(context, group.Select(i => continuations[i]).ToArray(), group, scores, empty);
        }
        return scores;
    }

    private void ScoreGroup(int[] context, int[][] continuationIds, int[] indices, ChoiceScore[] scores, IReadOnlyList<string> continuations)
    {
        int longest = continuationIds.Max(c => c.Length);
        // Left-truncate the context so that context + the longest continuation fits.
        int keep = Math.Max(1, Math.Min(context.Length, _session.MaxContext - longest));
        int[] ctx = context[^keep..];
        _session.Reset(0);
        if (ctx.Length > 1)
        {
            int[] prefix = ctx[..^1];
            for (int start = 0; start < prefix.Length; start += _session.MaxTokensPerStep)
            {
                int length = Math.Min(_session.MaxTokensPerStep, prefix.Length - start);
                _session.Step([new SequenceChunk(0, prefix.AsMemory(start, length), LogitsRequest.None)]);
            }
        }
        var requests = new TokenScorer.Request[continuationIds.Length];
        for (int c = 0; c < continuationIds.Length; c++)
        {
            int slot = c + 1;
            _session.CopySlot(0, slot);
            int[] cont = continuationIds[c];
            int[] inputs = [ctx[^1], .. cont[..^1]];
            requests[c] = new TokenScorer.Request(slot, inputs, cont);
        }
        TokenScore[][] results = TokenScorer.ScoreNextBatch(_session, requests);
        for (int c = 0; c < continuationIds.Length; c++)
        {
            int index = indices[c];
            scores[index] = new ChoiceScore(results[c].Sum(s => s.Logprob), continuationIds[c].Length, continuations[index].Length, results[c].All(s => s.IsGreedy));
        }
    }
}
