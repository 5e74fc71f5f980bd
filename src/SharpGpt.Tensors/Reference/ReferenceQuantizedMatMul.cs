using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Tensors.Reference;

/// <summary>
/// Twin of <see cref="QuantizedMatMul"/>: the same quantization of the input rows, then Σ_g s_x·s_w·Σ q_x·q_w
/// written as plain loops in double, reading the weights through <see cref="QuantizedMatrix.Value"/>; for bf16
/// weights, Σ x·w in double over the fp32 input.
/// </summary>
public static unsafe class ReferenceQuantizedMatMul
{
    /// <summary>x (K floats) → per group of 32: q as signed bytes (−127…127, zero-padded) and the group's scale (max|x| / 127).</summary>
    public static void QuantizeRow(float* x, int length, byte* q, float* scales)
    {
        int groups = (length + QuantizedMatrix.GroupSize - 1) / QuantizedMatrix.GroupSize;
        for (int g = 0; g < groups; g++)
        {
            int start = g * QuantizedMatrix.GroupSize, count = Math.Min(QuantizedMatrix.GroupSize, length - start);
            float max = 0;
            for (int i = 0; i < count; i++)
            {
                max = MathF.Max(max, MathF.Abs(x[start + i]));
            }
            float scale = max / 127f;
            float inverse = scale == 0 ? 0 : 1 / scale;
            scales[g] = scale;
            byte* destination = q + (long)g * QuantizedMatrix.GroupSize;
            for (int i = 0; i < QuantizedMatrix.GroupSize; i++)
            {
                int value = i < count ? (int)MathF.Round(x[start + i] * inverse) : 0;
                destination[i] = (byte)(sbyte)Math.Clamp(value, -127, 127);
            }
        }
    }

    public static void Forward(Span<float> output, ReadOnlySpan<float> input, QuantizedMatrix weights, ReadOnlySpan<float> bias, int rows)
    {
        int k = weights.Columns, groups = weights.Groups;
        if (weights.Kind == QuantizationKind.BFloat16)
        {
            // fp32 activations, unquantized, against the exact values of the bf16 weights.
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < weights.Rows; j++)
                {
                    double total = 0;
                    for (int column = 0; column < k; column++)
                    {
                        total += (double)input[r * k + column] * weights.Dequantize(j, column);
                    }
                    output[r * weights.Rows + j] = (float)(total + (bias.IsEmpty ? 0 : bias[j]));
                }
            }
            return;
        }
        byte[] q = new byte[groups * QuantizedMatrix.GroupSize];
        float[] scales = new float[groups];
        for (int r = 0; r < rows; r++)
        {
            fixed (float* x = input.Slice(r * k, k))
            fixed (byte* pq = q)
            fixed (float* ps = scales)
            {
                QuantizeRow(x, k, pq, ps);
            }
            for (int j = 0; j < weights.Rows; j++)
            {
                double total = 0;
                for (int g = 0; g < groups; g++)
                {
                    long sum = 0;
                    for (int i = 0; i < QuantizedMatrix.GroupSize; i++)
                    {
                        int column = g * QuantizedMatrix.GroupSize + i;
                        sum += (sbyte)q[column] * (column < k ? weights.Value(j, column) : 0);
                    }
                    total += (double)scales[g] * weights.Scales[(long)j * groups + g] * sum;
                }
                output[r * weights.Rows + j] = (float)(total + (bias.IsEmpty ? 0 : bias[j]));
            }
        }
    }
}
