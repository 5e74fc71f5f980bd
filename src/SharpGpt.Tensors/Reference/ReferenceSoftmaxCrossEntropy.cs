namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.SoftmaxCrossEntropy"/>, max-subtracted, in double precision.</summary>
public static class ReferenceSoftmaxCrossEntropy
{
    /// <summary>Twin of <see cref="Kernels.SoftmaxCrossEntropy.ExpSum"/>: exp(values − shift) and its sum, in double.</summary>
    public static double ExpSum(ReadOnlySpan<float> values, float shift, Span<float> destination)
    {
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double e = Math.Exp((double)values[i] - shift);
            destination[i] = (float)e;
            sum += e;
        }
        return sum;
    }

    /// <summary>Twin of <see cref="Kernels.SoftmaxCrossEntropy.LogSumExp"/>, in double.</summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float v in logits)
        {
            max = Math.Max(max, v);
        }
        double sum = 0;
        foreach (float v in logits)
        {
            sum += Math.Exp(v - max);
        }
        return max + Math.Log(sum);
    }

    public static void Forward(Span<float> probabilities, Span<float> losses, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int rows, int vocab)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = logits.Slice(r * vocab, vocab);
            double max = double.NegativeInfinity;
            foreach (float v in x)
            {
                max = Math.Max(max, v);
            }
            double sum = 0;
            foreach (float v in x)
            {
                sum += Math.Exp(v - max);
            }
            for (int i = 0; i < vocab; i++)
            {
                probabilities[r * vocab + i] = (float)(Math.Exp(x[i] - max) / sum);
            }
            int t = targets[r];
            losses[r] = t < 0 ? 0f : (float)(Math.Log(sum) + max - x[t]);
        }
    }

    public static void Backward(Span<float> dLogits, ReadOnlySpan<float> probabilities, ReadOnlySpan<int> targets, float dLossScale, int rows, int vocab)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < vocab; i++)
            {
                int t = targets[r];
                dLogits[r * vocab + i] = t < 0 ? 0f : (float)((probabilities[r * vocab + i] - (i == t ? 1.0 : 0.0)) * dLossScale);
            }
        }
    }
}
