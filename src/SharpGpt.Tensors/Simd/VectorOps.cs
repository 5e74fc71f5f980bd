using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpGpt.Tensors.Simd;

/// <summary>
/// Short-vector primitives for the attention inner loops (head dimension 64–128), where the
/// span plumbing of TensorPrimitives would cost as much as the arithmetic.
/// Vector512, then Vector256, then a scalar tail.
/// </summary>
internal static unsafe class VectorOps
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            }
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    /// <summary>y[i] += alpha * x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, float* x, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a = Vector512.Create(alpha);
            for (; i + 16 <= n; i += 16)
            {
                Vector512.FusedMultiplyAdd(a, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8)
            {
                Vector256.FusedMultiplyAdd(a, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] += alpha * x[i];
        }
    }

    /// <summary>y[i] = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Zero(float* y, int n) => new Span<float>(y, n).Clear();
}
