using SharpGpt.Inference.Scoring;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Evaluation.Scoring;

/// <summary>
/// log P(continuation | context) for many (context, continuations) requests, the way lm-evaluation-harness
/// tokenizes (encode(context + continuation); the continuation is what follows encode(context); trailing
/// whitespace of the context moves into the continuation). Contexts too long for the model lose tokens from the
/// left, as in lm-eval.
/// <para>
/// Batching: each context is run through the model once and its KV cache copied to one slot per continuation.
/// Requests are packed into waves that fill the session's slots: the contexts of a wave are prefilled together,
/// then every continuation of the wave is scored together. Prompt rows are computed the same way whatever else
/// is in a step (<see cref="SequenceChunk"/>), so the numbers do not depend on how requests are packed.
/// </para>
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

    /// <summary>Continuations that can be scored at once (one slot each).</summary>
    public int MaxContinuations => _session.SlotCount;

    public int MaxContext => _session.MaxContext;

    public int[] Encode(string text) => _tokenizer.Encode(text);

    /// <summary>A context's tokens and some of its continuations; Targets[i] is (request, choice) of Continuations[i].</summary>
    private sealed record Group(int[] Context, int[][] Continuations, (int Request, int Choice)[] Targets);

    public ChoiceScore[] Score(string context, IReadOnlyList<string> continuations) => ScoreMany([new ScoringRequest(context, continuations)])[0];

    /// <summary>result[r][c]: continuation c of request r.</summary>
    public ChoiceScore[][] ScoreMany(IReadOnlyList<ScoringRequest> requests)
    {
        var groups = new List<Group>();
        for (int r = 0; r < requests.Count; r++)
        {
            AddGroups(r, requests[r], groups);
        }
        return ScoreGroups(groups, requests.Select(r => r.Continuations.Select(c => c.Length).ToArray()).ToArray());
    }

    /// <summary>The same on token ids: continuation i scored after the shared context (character counts are 0).</summary>
    public ChoiceScore[] ScoreTokens(int[] context, IReadOnlyList<int[]> continuations)
    {
        if (context.Length == 0 || continuations.Any(c => c.Length == 0))
        {
            throw new ArgumentException("The context and every continuation need at least one token.");
        }
        var groups = Enumerable.Range(0, continuations.Count).Chunk(MaxContinuations)
            .Select(chunk => new Group(context, chunk.Select(i => continuations[i]).ToArray(), chunk.Select(i => (0, i)).ToArray()))
            .ToList();
        return ScoreGroups(groups, [new int[continuations.Count]])[0];
    }

    private void AddGroups(int requestIndex, ScoringRequest request, List<Group> groups)
    {
        // lm-eval: move the context's trailing whitespace into the continuation.
        string trimmed = request.Context.TrimEnd();
        string moved = request.Context[trimmed.Length..];
        int[] contextIds = trimmed.Length == 0 ? [_tokenizer.EndOfTextId] : _tokenizer.Encode(trimmed);
        var shared = new List<(int[] Continuation, int Choice)>();
        for (int c = 0; c < request.Continuations.Count; c++)
        {
            string continuation = moved + request.Continuations[c];
            int[] whole = trimmed.Length == 0 ? [_tokenizer.EndOfTextId, .. _tokenizer.Encode(continuation)] : _tokenizer.Encode(trimmed + continuation);
            int split = Math.Min(contextIds.Length, whole.Length - 1);
            if (whole.AsSpan(0, split).SequenceEqual(contextIds))
            {
                shared.Add((whole[split..], c));
            }
            else
            {
                // A BPE merge across the boundary: this continuation is scored after its own context.
                groups.Add(new Group(whole[..split], [whole[split..]], [(requestIndex, c)]));
            }
        }
        foreach (var chunk in shared.Chunk(MaxContinuations))
        {
            groups.Add(new Group(contextIds, chunk.Select(s => s.Continuation).ToArray(), chunk.Select(s => (requestIndex, s.Choice)).ToArray()));
        }
    }

    /// <summary>Scores groups in waves of at most <see cref="MaxContinuations"/> slots.</summary>
    private ChoiceScore[][] ScoreGroups(List<Group> groups, int[][] characters)
    {
        var scores = characters.Select(c => new ChoiceScore[c.Length]).ToArray();
        int next = 0;
        while (next < groups.Count)
        {
            var wave = new List<Group>();
            for (int slots = 0; next < groups.Count && slots + groups[next].Continuations.Length <= _session.SlotCount; next++)
            {
                wave.Add(groups[next]);
                slots += groups[next].Continuations.Length;
            }
            ScoreWave(wave, scores, characters);
        }
        return scores;
    }

    /// <summary>
    /// Prefills every group's context (all but its last token) into the group's first slot, in shared steps; copies
    /// it to the group's other slots; then feeds [last context token, continuation[..^1]] to every slot and reads
    /// log P(continuation token) at each position.
    /// </summary>
    private void ScoreWave(List<Group> wave, ChoiceScore[][] scores, int[][] characters)
    {
        var prefills = new List<(int Slot, int[] Tokens)>();
        var requests = new List<TokenScorer.Request>();
        var forks = new List<(int First, int Count)>();
        foreach (Group group in wave)
        {
            int first = requests.Count;
            int longest = group.Continuations.Max(c => c.Length);
            // Left-truncate the context so that context + the longest continuation fits.
            int keep = Math.Max(1, Math.Min(group.Context.Length, _session.MaxContext - longest));
            int[] context = group.Context[^keep..];
            _session.Reset(first);
            if (context.Length > 1)
            {
                prefills.Add((first, context[..^1]));
            }
            forks.Add((first, group.Continuations.Length));
            foreach (int[] continuation in group.Continuations)
            {
                requests.Add(new TokenScorer.Request(requests.Count, [context[^1], .. continuation[..^1]], continuation));
            }
        }
        TokenScorer.FeedBatch(_session, prefills);
        foreach ((int first, int count) in forks)
        {
            for (int slot = first + 1; slot < first + count; slot++)
            {
                _session.CopySlot(first, slot);
            }
        }
        TokenScore[][] results = TokenScorer.ScoreNextBatch(_session, requests);
        int row = 0;
        foreach (Group group in wave)
        {
            for (int c = 0; c < group.Continuations.Length; c++, row++)
            {
                (int r, int choice) = group.Targets[c];
                scores[r][choice] = new ChoiceScore(results[row].Sum(s => s.Logprob), group.Continuations[c].Length, characters[r][choice],
                    results[row].All(s => s.IsGreedy));
            }
        }
    }
}
