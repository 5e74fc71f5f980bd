using SharpGpt.Tensors.Kernels;

namespace SharpGpt.Tensors.Reference;

/// <summary>
/// Twin of <see cref="Kernels.FlashAttention"/> written the textbook way: full score matrix per head,
/// explicit causal and window bounds, double precision.
/// </summary>
public static class ReferenceAttention
{
    public static void Forward(Span<float> output, Span<float> probabilities, ReadOnlySpan<float> qkv, int batch, int time, AttentionShape shape)
    {
        int c = shape.Channels, hd = shape.HeadDim;
        probabilities.Clear();
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < shape.Heads; h++)
            {
                for (int i = 0; i < time; i++)
                {
                    int first = shape.FirstVisible(i);
                    double[] scores = new double[time];
                    double max = double.NegativeInfinity;
                    for (int j = first; j <= i; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < hd; d++)
                        {
                            dot += (double)qkv[Index(b, i, 0, h, d)] * qkv[Index(b, j, 1, h, d)];
                        }
                        scores[j] = dot * shape.Scale;
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = first; j <= i; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int j = first; j <= i; j++)
                    {
                        probabilities[((b * shape.Heads + h) * time + i) * time + j] = (float)(scores[j] / sum);
                    }
                    for (int d = 0; d < hd; d++)
                    {
                        double o = 0;
                        for (int j = first; j <= i; j++)
                        {
                            o += scores[j] / sum * qkv[Index(b, j, 2, h, d)];
                        }
                        output[(b * time + i) * c + h * hd + d] = (float)o;
                    }
                }
            }
        }

        int Index(int b, int t, int part, int h, int d) => (b * time + t) * 3 * c + part * c + h * hd + d;
    }

    public static void Backward(Span<float> dQkv, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> qkv, ReadOnlySpan<float> probabilities,
        int batch, int time, AttentionShape shape)
    {
        int c = shape.Channels, hd = shape.HeadDim;
        double[] grad = new double[dQkv.Length];
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < shape.Heads; h++)
            {
                for (int i = 0; i < time; i++)
                {
                    int first = shape.FirstVisible(i);
                    double[] dp = new double[time];
                    double weighted = 0;
                    for (int j = first; j <= i; j++)
                    {
                        double p = probabilities[((b * shape.Heads + h) * time + i) * time + j];
                        for (int d = 0; d < hd; d++)
                        {
                            double dO = dOutput[(b * time + i) * c + h * hd + d];
                            dp[j] += dO * qkv[Index(b, j, 2, h, d)];
                            grad[Index(b, j, 2, h, d)] += p * dO;
                        }
                        weighted += p * dp[j];
                    }
                    for (int j = first; j <= i; j++)
                    {
                        double p = probabilities[((b * shape.Heads + h) * time + i) * time + j];
                        double dS = p * (dp[j] - weighted) * shape.Scale;
                        for (int d = 0; d < hd; d++)
                        {
                            grad[Index(b, i, 0, h, d)] += dS * qkv[Index(b, j, 1, h, d)];
                            grad[Index(b, j, 1, h, d)] += dS * qkv[Index(b, i, 0, h, d)];
                        }
                    }
                }
            }
        }
        for (int i = 0; i < grad.Length; i++)
        {
            dQkv[i] = (float)grad[i];
        }

        int Index(int b, int t, int part, int h, int d) => (b * time + t) * 3 * c + part * c + h * hd + d;
    }
}
