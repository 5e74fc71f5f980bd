using System.Runtime.Intrinsics;

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
