namespace SharpGpt.Tensors.Reference;

/// <summary>Plain triple-loop twin of the GEMM, accumulating in double: the oracle for every fast path.</summary>
public static class ReferenceGemm
{
    /// <summary>C (M×N, row stride ldc) = (accumulate ? C : 0) + A·B, with A(i,k) = a[i·ars + k·acs] and B(k,j) = b[k·brs + j·bcs].</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRowStride, int aColStride,
        ReadOnlySpan<float> b, int bRowStride, int bColStride, Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * ldc + j] : 0.0;
                for (int p = 0; p < k; p++)
                {
                    sum += (double)a[i * aRowStride + p * aColStride] * b[p * bRowStride + j * bColStride];
                }
                c[i * ldc + j] = (float)sum;
            }
        }
    }
}
