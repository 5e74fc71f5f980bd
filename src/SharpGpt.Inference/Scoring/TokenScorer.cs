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
    /// (all the choices of a multiple-choice question go through the model together).
    /// </summary>
    public static TokenScore[][] ScoreNextBatch(IInferenceSession session, IReadOnlyList<Request> requests)
    {
        var results = requests.Select(r => new TokenScore[r.Inputs.Length]).ToArray();
        int[] done = new int[requests.Count];
        var chunks = new List<SequenceChunk>();
        var owners = new List<(int Request, int Start, int Length)>();
        while (true)
        {
            chunks.Clear();
            owners.Clear();
            int budget = session.MaxTokensPerStep;
            for (int r = 0; r < requests.Count && budget > 0; r++)
            {
                int remaining = requests[r].Inputs.Length - done[r];
                if (remaining == 0)
                {
                    continue;
                }
                int length = Math.Min(remaining, budget);
                chunks.Add(new SequenceChunk(requests[r].Slot, requests[r].Inputs.AsMemory(done[r], length), LogitsRequest.All));
                owners.Add((r, done[r], length));
                budget -= length;
            }
            if (chunks.Count == 0)
            {
                return results;
            }
            session.Step(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chunks));
            for (int c = 0; c < owners.Count; c++)
            {
                (int r, int start, int length) = owners[c];
                int firstRow = session.FirstLogitRow(c);
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
                done[r] += length;
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
