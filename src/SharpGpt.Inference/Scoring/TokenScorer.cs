using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Model;
using SharpGpt.Model.Inference;
using SharpGpt.Tensors.Kernels;

namespace SharpGpt.Inference.Scoring;

/// <summary>log P(target | everything before it), and whether the target was the model's top choice.</summary>
public readonly record struct TokenScore(double Logprob, bool IsGreedy, IReadOnlyList<TokenLogprob>? Top = null);

/// <summary>
/// Teacher-forced log-likelihood through the KV cache: feed tokens, and for each fed position read the
/// log-probability of its target (the next token). This one code path serves `sharpgpt score`, the
/// server's echo + logprobs and the evaluation harness, so all three agree exactly. A cached context can
/// be scored once and reused: feed its last token with the continuation (see <see cref="ScoreNext"/>).
/// </summary>
public static class TokenScorer
{
    /// <summary>
    /// Appends <paramref name="inputs"/> to <paramref name="slot"/>; result[i] scores targets[i] given
    /// the slot's earlier tokens and inputs[0..i]. Targets below zero are not scored (NaN).
    /// </summary>
    public static TokenScore[] ScoreNext(IInferenceSession session, int slot, ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int topLogprobs = 0)
    {
        if (inputs.Length != targets.Length)
        {
            throw new ArgumentException("inputs and targets must have the same length.");
        }
        var scores = new TokenScore[inputs.Length];
        int[] buffer = inputs.ToArray();
        for (int start = 0; start < inputs.Length; start += session.MaxTokensPerStep)
        {
            int length = Math.Min(session.MaxTokensPerStep, inputs.Length - start);
            session.Step([new SequenceChunk(slot, buffer.AsMemory(start, length), LogitsRequest.All)]);
            for (int i = 0; i < length; i++)
            {
                int target = targets[start + i];
                if (target < 0)
                {
                    scores[start + i] = new TokenScore(double.NaN, false);
                    continue;
                }
                ReadOnlySpan<float> logits = session.Logits(i);
                double lse = SoftmaxCrossEntropy.LogSumExp(logits);
                scores[start + i] = new TokenScore(logits[target] - lse, TokenSampler.ArgMax(logits) == target,
                    topLogprobs > 0 ? Logprobs.Top(logits, topLogprobs, lse) : null);
            }
        }
        return scores;
    }

    /// <summary>One request of <see cref="ScoreNextBatch"/>: inputs appended to a slot and the targets to score.</summary>
    public readonly record struct Request(int Slot, int[] Inputs, int[] Targets);

    /// <summary>
    /// Several <see cref="ScoreNext"/> requests for different slots, packed into as few batched steps as fit
    /// (the choices of several multiple-choice questions go through the model together).
    /// </summary>
    public static TokenScore[][] ScoreNextBatch(IInferenceSession session, IReadOnlyList<Request> requests)
    {
        var results = requests.Select(r => new TokenScore[r.Inputs.Length]).ToArray();
        RunPacked(session, requests.Select(r => (r.Slot, r.Inputs)).ToList(), LogitsRequest.All, (r, start, length, firstRow) =>
        {
            for (int i = 0; i < length; i++)
            {
                int target = requests[r].Targets[start + i];
                if (target < 0)
                {
                    results[r][start + i] = new TokenScore(double.NaN, false);
                    continue;
                }
                ReadOnlySpan<float> logits = session.Logits(firstRow + i);
                results[r][start + i] = new TokenScore(logits[target] - SoftmaxCrossEntropy.LogSumExp(logits), TokenSampler.ArgMax(logits) == target);
            }
        });
        return results;
    }

    /// <summary>Appends each slot's tokens without computing logits (prefilling several contexts together).</summary>
    public static void FeedBatch(IInferenceSession session, IReadOnlyList<(int Slot, int[] Tokens)> feeds) =>
        RunPacked(session, feeds, LogitsRequest.None, read: null);

    /// <summary>
    /// Feeds every (slot, tokens) pair in order, filling each step up to <see cref="IInferenceSession.MaxTokensPerStep"/>
    /// rows; a long input continues in the next step. After each step, <paramref name="read"/> gets
    /// (feed index, first fed position, length, first logit row) for each chunk of that step.
    /// </summary>
    private static void RunPacked(IInferenceSession session, IReadOnlyList<(int Slot, int[] Tokens)> feeds, LogitsRequest logits,
        Action<int, int, int, int>? read)
    {
        int[] done = new int[feeds.Count];
        var chunks = new List<SequenceChunk>();
        var owners = new List<(int Feed, int Start, int Length)>();
        while (true)
        {
            chunks.Clear();
            owners.Clear();
            int budget = session.MaxTokensPerStep;
            for (int f = 0; f < feeds.Count && budget > 0; f++)
            {
                int remaining = feeds[f].Tokens.Length - done[f];
                if (remaining == 0)
                {
                    continue;
                }
                int length = Math.Min(remaining, budget);
                chunks.Add(new SequenceChunk(feeds[f].Slot, feeds[f].Tokens.AsMemory(done[f], length), logits));
                owners.Add((f, done[f], length));
                budget -= length;
            }
            if (chunks.Count == 0)
            {
                return;
            }
            session.Step(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chunks));
            for (int c = 0; c < owners.Count; c++)
            {
                (int f, int start, int length) = owners[c];
                read?.Invoke(f, start, length, logits == LogitsRequest.None ? -1 : session.FirstLogitRow(c));
                done[f] += length;
            }
        }
    }

    /// <summary>
    /// Scores a whole sequence from scratch in <paramref name="slot"/>: element i is log P(tokens[i] | tokens[..i]),
    /// null for the first token, which has no context.
    /// </summary>
    public static double?[] ScoreSequence(IInferenceSession session, int slot, IReadOnlyList<int> tokens, int topLogprobs = 0) =>
        ScoreSequenceDetailed(session, slot, tokens, topLogprobs).Select(s => s?.Logprob).ToArray();

    /// <summary>As <see cref="ScoreSequence"/>, with greedy flags and top alternatives.</summary>
    public static TokenScore?[] ScoreSequenceDetailed(IInferenceSession session, int slot, IReadOnlyList<int> tokens, int topLogprobs = 0)
    {
        if (tokens.Count > session.MaxContext)
        {
            throw new SharpGptException($"The text has {tokens.Count} tokens, more than the model's context of {session.MaxContext}.");
        }
        session.Reset(slot);
        var result = new TokenScore?[tokens.Count];
        if (tokens.Count == 0)
        {
            return result;
        }
        int[] inputs = tokens.Take(tokens.Count - 1).ToArray();
        int[] targets = tokens.Skip(1).ToArray();
        TokenScore[] scores = ScoreNext(session, slot, inputs, targets, topLogprobs);
        for (int i = 0; i < scores.Length; i++)
        {
            result[i + 1] = scores[i];
        }
        return result;
    }
}
