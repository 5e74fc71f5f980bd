using System.Numerics.Tensors;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Inference.Sampling;

/// <summary>
/// Chooses tokens for one sequence. It owns the sequence's random generator (seeded per request, so the
/// same seed and request give the same tokens whatever else is being generated) and its token counts for
/// the penalties. Buffers are allocated once per sampler, not per token.
/// </summary>
public sealed class TokenSampler
{
    private readonly SamplingOptions _options;
    private readonly Rng _rng;
    private readonly float[] _work;
    private readonly int[] _candidates;
    private readonly Dictionary<int, int> _counts = [];

    public TokenSampler(SamplingOptions options, int vocabSize)
    {
        string? problem = options.Validate();
        if (problem != null)
        {
            throw new ArgumentException(problem, nameof(options));
        }
        _options = options;
        _rng = new Rng(options.Seed ?? (ulong)System.Random.Shared.NextInt64());
        _work = new float[vocabSize];
        _candidates = new int[vocabSize];
    }

    public SamplingOptions Options => _options;

    /// <summary>Records a token that is now part of the output (for presence/frequency penalties).</summary>
    public void Observe(int token) => _counts[token] = _counts.GetValueOrDefault(token) + 1;

    /// <summary>Picks the next token from raw logits (V) and records it.</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        Span<float> x = _work.AsSpan(0, logits.Length);
        logits.CopyTo(x);
        if (_options.LogitBias != null)
        {
            foreach ((int token, float bias) in _options.LogitBias)
            {
                if ((uint)token < (uint)x.Length)
                {
                    x[token] += bias;
                }
            }
        }
        if (_options.PresencePenalty != 0 || _options.FrequencyPenalty != 0)
        {
            foreach ((int token, int count) in _counts)
            {
                x[token] -= _options.PresencePenalty + _options.FrequencyPenalty * count;
            }
        }
        int chosen = _options.IsGreedy ? ArgMax(x) : Draw(x);
        Observe(chosen);
        return chosen;
    }

    /// <summary>Index of the largest value; the lowest index wins ties, so greedy decoding is deterministic.</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => TensorPrimitives.IndexOfMax(values);

    private int Draw(Span<float> x)
    {
        if (_options.Temperature != 1f)
        {
            TensorPrimitives.Multiply(x, 1f / _options.Temperature, x);
        }
        // Candidate set: all tokens, or the k best (top-k), kept sorted by logit descending when filtered.
        int count;
        double sum;
        if (_options.TopK > 0 && _options.TopK < x.Length)
        {
            count = TopIndices(x, _options.TopK, _candidates);
            // Softmax over the candidates (max-subtracted).
            float max = float.NegativeInfinity;
            for (int i = 0; i < count; i++)
            {
                max = MathF.Max(max, x[_candidates[i]]);
            }
            sum = 0;
            for (int i = 0; i < count; i++)
            {
                int token = _candidates[i];
                float p = MathF.Exp(x[token] - max);
                x[token] = p;
                sum += p;
            }
        }
        else
        {
            // The whole vocabulary: a vectorised softmax numerator (the per-token cost of sampling from 50K
            // logits was a scalar exp per entry, which dominated a batched decoding step of a small model).
            count = x.Length;
            sum = SoftmaxCrossEntropy.ExpSum(x, TensorPrimitives.Max(x), x);
            if (_options.TopP >= 1f)
            {
                return DrawFromAll(x, sum);
            }
            for (int i = 0; i < count; i++)
            {
                _candidates[i] = i;
            }
        }
        if (_options.TopP < 1f)
        {
            count = NucleusCount(x, count, sum);
            sum = 0;
            for (int i = 0; i < count; i++)
            {
                sum += x[_candidates[i]];
            }
        }
        double target = _rng.NextDouble() * sum;
        double cumulative = 0;
        for (int i = 0; i < count; i++)
        {
            cumulative += x[_candidates[i]];
            if (cumulative > target)
            {
                return _candidates[i];
            }
        }
        return _candidates[count - 1];
    }

    /// <summary>Inverse-CDF draw over unnormalised weights <paramref name="weights"/> with total <paramref name="total"/>.</summary>
    private int DrawFromAll(ReadOnlySpan<float> weights, double total)
    {
        double target = _rng.NextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            cumulative += weights[i];
            if (cumulative > target)
            {
                return i;
            }
        }
        // Rounding can leave the target just above the running sum: take the last token with any weight.
        int last = weights.Length - 1;
        while (last > 0 && weights[last] == 0)
        {
            last--;
        }
        return last;
    }

    /// <summary>
    /// Keeps the smallest prefix (by probability, descending) of the candidates whose mass reaches top_p.
    /// The candidates are sorted only as far as needed: the best 64, then 256, … until the mass is reached,
    /// which is cheap for the peaked distributions language models produce.
    /// </summary>
    private int NucleusCount(Span<float> probabilities, int count, double total)
    {
        double threshold = _options.TopP * total;
        for (int k = Math.Min(64, count); ; k = Math.Min(count, k * 4))
        {
            int[] best = new int[k];
            int found = TopIndices(probabilities, k, best, _candidates.AsSpan(0, count));
            double cumulative = 0;
            for (int i = 0; i < found; i++)
            {
                cumulative += probabilities[best[i]];
                if (cumulative >= threshold)
                {
                    best.AsSpan(0, i + 1).CopyTo(_candidates);
                    return i + 1;
                }
            }
            if (k == count)
            {
                best.AsSpan(0, found).CopyTo(_candidates);
                return found;
            }
        }
    }

    /// <summary>The k indices with the largest values, sorted descending (ties: lower index first).</summary>
    private static int TopIndices(ReadOnlySpan<float> values, int k, Span<int> result, ReadOnlySpan<int> among = default)
    {
        int n = among.IsEmpty ? values.Length : among.Length;
        k = Math.Min(k, n);
        // Min-heap of the best k seen so far, keyed by (value, −index).
        var heap = new PriorityQueue<int, (float, int)>(k + 1);
        for (int j = 0; j < n; j++)
        {
            int i = among.IsEmpty ? j : among[j];
            var key = (values[i], -i);
            if (heap.Count < k)
            {
                heap.Enqueue(i, key);
            }
            else if (heap.TryPeek(out _, out var smallest) && key.CompareTo(smallest) > 0)
            {
                heap.DequeueEnqueue(i, key);
            }
        }
        int count = heap.Count;
        for (int i = count - 1; i >= 0; i--)
        {
            result[i] = heap.Dequeue();
        }
        return count;
    }
}
