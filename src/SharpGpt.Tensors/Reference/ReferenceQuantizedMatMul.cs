using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Tensors.Reference;

/// <summary>
/// Twin of <see cref="QuantizedMatMul"/>: the same quantization of the input rows, then Σ_g s_x·s_w·Σ q_x·q_w
/// written as plain loops in double, reading the weights through <see cref="QuantizedMatrix.Value"/>.
/// </summary>
public static unsafe class ReferenceQuantizedMatMul
{
    public static void Forward(Span<float> output, ReadOnlySpan<float> input, QuantizedMatrix weights, ReadOnlySpan<float> bias, int rows)
    {
        int k = weights.Columns, groups = weights.Groups;
        byte[] q = new byte[groups * QuantizedMatrix.GroupSize];
        float[] scales = new float[groups];
        for (int r = 0; r < rows; r++)
        {
            fixed (float* x = input.Slice(r * k, k))
            fixed (byte* pq = q)
            fixed (float* ps = scales)
            {
                QuantizedMatMul.QuantizeRow(x, k, pq, ps);
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
