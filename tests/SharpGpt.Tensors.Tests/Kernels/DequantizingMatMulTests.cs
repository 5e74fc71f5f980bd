using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class DequantizingMatMulTests
{
    /// <summary>
    /// The product of the dequantized weights is computed exactly like an fp32 GEMM, so GemmTests' bound applies:
    /// fp32 accumulation of K ≤ 768 products drifts like √K·2⁻²⁴ of the output scale; 2e-5 leaves a wide margin and
    /// still fails on any misplaced or wrongly decoded element.
    /// </summary>
    private const double Tolerance = 2e-5;

    public static TheoryData<int, int, int, QuantizationKind> Shapes()
    {
        var data = new TheoryData<int, int, int, QuantizationKind>();
        foreach (QuantizationKind kind in Enum.GetValues<QuantizationKind>())
        {
            data.Add(1, 7, 31, kind);      // one partial group, a partial panel
            data.Add(5, 40, 100, kind);    // a partial last group
            data.Add(33, 97, 768, kind);   // GPT-2's width, panels of 32 and a ragged one
            data.Add(17, 31, 513, kind);   // two depth slabs, the second one element deep
            data.Add(300, 65, 96, kind);   // two row blocks: panels packed once and shared
        }
        return data;
    }

    /// <summary>Against x · dequantize(W)ᵀ + b summed in double, element by element from <see cref="QuantizedMatrix.Dequantize"/>.</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheProductOfTheDequantizedWeights(int rows, int n, int k, QuantizationKind kind)
    {
        Rng rng = new((ulong)(rows * 7919 + n * 31 + k));
        float[] x = TestArrays.Uniform(rng, rows * k), w = TestArrays.Uniform(rng, n * k), bias = TestArrays.Uniform(rng, n);
        float[] expected = new float[rows * n], actual = new float[rows * n];
        fixed (float* pw = w, px = x, pb = bias, py = actual)
        {
            using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, n, k, kind);
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = bias[j];
                    for (int i = 0; i < k; i++)
                    {
                        sum += (double)x[r * k + i] * q.Dequantize(j, i);
                    }
                    expected[r * n + j] = (float)sum;
                }
            }
            DequantizingMatMul.Forward(py, px, q, pb, rows);
        }
        NumericAssert.CloseRelativeToScale(expected, actual, Tolerance, $"{kind} {rows}x{n}x{k}");
    }
}
