namespace SharpGpt.Tensors.Reference;

/// <summary>Twin of <see cref="Kernels.LayerNorm"/>, in double precision.</summary>
public static class ReferenceLayerNorm
{
    public static void Forward(Span<float> output, Span<float> mean, Span<float> rstd, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, int channels, float epsilon)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = input.Slice(r * channels, channels);
            double m = 0;
            foreach (float v in x)
            {
                m += v;
            }
            m /= channels;
            double variance = 0;
            foreach (float v in x)
            {
                variance += (v - m) * (v - m);
            }
            variance /= channels;
            double s = 1.0 / Math.Sqrt(variance + epsilon);
            for (int i = 0; i < channels; i++)
            {
                output[r * channels + i] = (float)((x[i] - m) * s * weight[i] + bias[i]);
            }
            mean[r] = (float)m;
            rstd[r] = (float)s;
        }
    }

    /// <summary>dInput overwritten; dWeight and dBias accumulated.</summary>
    public static void Backward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput,
        ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, int rows, int channels)
    {
        double[] norm = new double[channels];
        double[] dNorm = new double[channels];
        for (int r = 0; r < rows; r++)
        {
            double meanDNorm = 0, meanDNormNorm = 0;
            for (int i = 0; i < channels; i++)
            {
                norm[i] = (input[r * channels + i] - mean[r]) * (double)rstd[r];
                dNorm[i] = (double)dOutput[r * channels + i] * weight[i];
                meanDNorm += dNorm[i];
                meanDNormNorm += dNorm[i] * norm[i];
                dBias[i] += dOutput[r * channels + i];
                dWeight[i] += (float)(dOutput[r * channels + i] * norm[i]);
            }
            meanDNorm /= channels;
            meanDNormNorm /= channels;
            for (int i = 0; i < channels; i++)
            {
                dInput[r * channels + i] = (float)(rstd[r] * (dNorm[i] - meanDNorm - norm[i] * meanDNormNorm));
            }
        }
    }
}
