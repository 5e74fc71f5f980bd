using SharpGpt.Inference.Generation;
using SharpGpt.Tensors.Kernels;

namespace SharpGpt.Inference.Scoring;

/// <summary>Log-probabilities from raw logits: log softmax, computed as x − logsumexp(x) with the sum in double.</summary>
public static class Logprobs
{
    public static double Of(ReadOnlySpan<float> logits, int token) => logits[token] - SoftmaxCrossEntropy.LogSumExp(logits);

    /// <summary>The <paramref name="count"/> most likely tokens with their log-probabilities, most likely first.</summary>
    public static TokenLogprob[] Top(ReadOnlySpan<float> logits, int count, double logSumExp)
    {
        count = Math.Min(count, logits.Length);
        var heap = new PriorityQueue<int, (float, int)>(count + 1);
        for (int i = 0; i < logits.Length; i++)
        {
            var key = (logits[i], -i);
            if (heap.Count < count)
            {
                heap.Enqueue(i, key);
            }
            else if (heap.TryPeek(out _, out var smallest) && key.CompareTo(smallest) > 0)
            {
                heap.DequeueEnqueue(i, key);
            }
        }
        var result = new TokenLogprob[heap.Count];
        for (int i = result.Length - 1; i >= 0; i--)
        {
            int token = heap.Dequeue();
            result[i] = new TokenLogprob(token, logits[token] - logSumExp);
        }
        return result;
    }
}
