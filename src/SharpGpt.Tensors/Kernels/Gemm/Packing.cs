using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGpt.Tensors.Kernels.Gemm;

/// <summary>
/// Copies blocks of A and B into the panel order the micro-kernels stream through.
/// Packed A: for each MR-row panel, kc steps of MR floats. Packed B: for each NR-column panel,
/// kc steps of NR floats. Edges are zero-padded so the micro-kernels never branch on size.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>Packs rows [row0, row0+rows) × depth [k0, k0+kc) of A into MR-row panels.</summary>
    public static void PackA(MatrixView a, int row0, int rows, int k0, int kc, int mr, float* dst)
    {
        for (int panel = 0; panel < rows; panel += mr)
        {
            int height = Math.Min(mr, rows - panel);
            float* src = a.Data + (long)(row0 + panel) * a.RowStride + (long)k0 * a.ColStride;
            if (a.RowStride == 1 && height == mr)
            {
                // Rows are adjacent in memory for each k (A is a transposed row-major matrix): copy MR floats per step.
                for (int k = 0; k < kc; k++)
                {
                    CopyContiguous(src + (long)k * a.ColStride, dst + k * mr, mr);
                }
            }
            else if (a.ColStride == 1 && height == 8 && Avx.IsSupported)
            {
                // Row-major A (x in x·Wᵀ): each row is contiguous along k, so 8×8 blocks are transposed in registers.
                int k = 0;
                for (; k + 8 <= kc; k += 8)
                {
                    Transpose8x8(src + k, a.RowStride, dst + k * 8, 8);
                }
                for (; k < kc; k++)
                {
                    for (int r = 0; r < 8; r++)
                    {
                        dst[k * 8 + r] = src[(long)r * a.RowStride + k];
                    }
                }
            }
            else
            {
                for (int k = 0; k < kc; k++)
                {
                    float* column = src + (long)k * a.ColStride;
                    float* outStep = dst + k * mr;
                    int r = 0;
                    for (; r < height; r++)
                    {
                        outStep[r] = column[(long)r * a.RowStride];
                    }
                    for (; r < mr; r++)
                    {
                        outStep[r] = 0f;
                    }
                }
            }
            dst += kc * mr;
        }
    }

    /// <summary>Packs one NR-wide column panel: depth [k0, k0+kc) × columns [col0, col0+width) of B.</summary>
    public static void PackBPanel(MatrixView b, int k0, int kc, int col0, int width, int nr, float* dst)
    {
        float* src = b.Data + (long)k0 * b.RowStride + (long)col0 * b.ColStride;
        if (b.ColStride == 1 && width == nr)
        {
            for (int k = 0; k < kc; k++)
            {
                CopyContiguous(src + (long)k * b.RowStride, dst + k * nr, nr);
            }
            return;
        }
        if (b.RowStride == 1 && width == nr && nr % 8 == 0 && Avx.IsSupported)
        {
            // Each column of B is contiguous along k (Wᵀ of a row-major weight): transpose 8×8 blocks in registers.
            int k = 0;
            for (; k + 8 <= kc; k += 8)
            {
                for (int j = 0; j < nr; j += 8)
                {
                    Transpose8x8(src + (long)j * b.ColStride + k, b.ColStride, dst + k * nr + j, nr);
                }
            }
            for (; k < kc; k++)
            {
                for (int j = 0; j < nr; j++)
                {
                    dst[k * nr + j] = src[(long)j * b.ColStride + k];
                }
            }
            return;
        }
        if (b.RowStride == 1)
        {
            // Each column of B is contiguous along k (B is a transposed row-major weight): walk column by column,
            // which reads memory sequentially and writes with stride NR.
            int j = 0;
            for (; j < width; j++)
            {
                float* column = src + (long)j * b.ColStride;
                for (int k = 0; k < kc; k++)
                {
                    dst[k * nr + j] = column[k];
                }
            }
            for (; j < nr; j++)
            {
                for (int k = 0; k < kc; k++)
                {
                    dst[k * nr + j] = 0f;
                }
            }
            return;
        }
        for (int k = 0; k < kc; k++)
        {
            float* row = src + (long)k * b.RowStride;
            int j = 0;
            for (; j < width; j++)
            {
                dst[k * nr + j] = row[(long)j * b.ColStride];
            }
            for (; j < nr; j++)
            {
                dst[k * nr + j] = 0f;
            }
        }
    }

    /// <summary>
    /// dst[c·dstStride + r] = src[r·srcStride + c] for an 8×8 block: the classic AVX transpose
    /// (unpack pairs, shuffle quads, swap 128-bit halves), 24 shuffles for 64 floats instead of 64 scalar moves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, long srcStride, float* dst, int dstStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + srcStride);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * srcStride), r3 = Avx.LoadVector256(src + 3 * srcStride);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * srcStride), r5 = Avx.LoadVector256(src + 5 * srcStride);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * srcStride), r7 = Avx.LoadVector256(src + 7 * srcStride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    private static void CopyContiguous(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
            {
                Vector512.Load(src + i).Store(dst + i);
            }
        }
        for (; i + 8 <= count; i += 8)
        {
            Vector256.Load(src + i).Store(dst + i);
        }
        for (; i < count; i++)
        {
            dst[i] = src[i];
        }
    }
}
