using System.Runtime.Intrinsics;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// O = P·V for a block of prompt rows over cached values: O (rows × hd, row stride ldo), P (rows × span, row stride
/// ldp), and value row j of the span at position j0 + j, which lives in ring row (j0 + j) mod capacity of
/// <c>values</c> (row stride ldv). Every output element is one fused multiply-add chain over j in position order,
/// whichever tile computes it (4 rows × 64 columns of Vector512 accumulators, or the per-row fallback for the
/// remaining rows and columns), so a row's result does not depend on the other rows of its block, and zeros of P
/// (positions the row does not see) leave it unchanged. The GEMM is not used here because its depth blocking
/// would split the sum at places that move with the block.
/// </summary>
internal static unsafe class AttentionValueTile
{
    private const int TileRows = 4;
    private const int TileColumns = 64;

    public static void Multiply(float* p, int ldp, int rows, int span, int j0, float* values, int ldv, int capacity, int hd, float* o, int ldo)
    {
        int tiledRows = Vector512.IsHardwareAccelerated ? rows / TileRows * TileRows : 0;
        int tiledColumns = Vector512.IsHardwareAccelerated ? hd / TileColumns * TileColumns : 0;
        for (int r = 0; r < tiledRows; r += TileRows)
        {
            for (int d = 0; d < tiledColumns; d += TileColumns)
            {
                Tile(p + (long)r * ldp, ldp, span, j0, values + d, ldv, capacity, o + (long)r * ldo + d, ldo);
            }
            for (int t = 0; t < TileRows; t++)
            {
                Row(p + (long)(r + t) * ldp, span, j0, values, ldv, capacity, tiledColumns, hd, o + (long)(r + t) * ldo);
            }
        }
        for (int r = tiledRows; r < rows; r++)
        {
            Row(p + (long)r * ldp, span, j0, values, ldv, capacity, 0, hd, o + (long)r * ldo);
        }
    }

    /// <summary>
    /// How many positions from span index <paramref name="j"/> on are contiguous in the ring, and the ring row of
    /// the first: a local layer's ring wraps at most once inside a span.
    /// </summary>
    private static int RunLength(int j, int span, int j0, int capacity, out int ring)
    {
        ring = (j0 + j) % capacity;
        return Math.Min(span - j, capacity - ring);
    }

    /// <summary>4 rows × 64 columns: 16 accumulators, 4 value loads and 4 broadcasts per position.</summary>
    private static void Tile(float* p, int ldp, int span, int j0, float* values, int ldv, int capacity, float* o, int ldo)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        float* p1 = p + ldp, p2 = p1 + ldp, p3 = p2 + ldp;
        for (int j = 0; j < span;)
        {
            int end = j + RunLength(j, span, j0, capacity, out int ring);
            for (float* v = values + (long)ring * ldv; j < end; j++, v += ldv)
            {
                Vector512<float> v0 = Vector512.Load(v), v1 = Vector512.Load(v + 16), v2 = Vector512.Load(v + 32), v3 = Vector512.Load(v + 48);
                Vector512<float> b = Vector512.Create(p[j]);
                a00 = Vector512.FusedMultiplyAdd(b, v0, a00);
                a01 = Vector512.FusedMultiplyAdd(b, v1, a01);
                a02 = Vector512.FusedMultiplyAdd(b, v2, a02);
                a03 = Vector512.FusedMultiplyAdd(b, v3, a03);
                b = Vector512.Create(p1[j]);
                a10 = Vector512.FusedMultiplyAdd(b, v0, a10);
                a11 = Vector512.FusedMultiplyAdd(b, v1, a11);
                a12 = Vector512.FusedMultiplyAdd(b, v2, a12);
                a13 = Vector512.FusedMultiplyAdd(b, v3, a13);
                b = Vector512.Create(p2[j]);
                a20 = Vector512.FusedMultiplyAdd(b, v0, a20);
                a21 = Vector512.FusedMultiplyAdd(b, v1, a21);
                a22 = Vector512.FusedMultiplyAdd(b, v2, a22);
                a23 = Vector512.FusedMultiplyAdd(b, v3, a23);
                b = Vector512.Create(p3[j]);
                a30 = Vector512.FusedMultiplyAdd(b, v0, a30);
                a31 = Vector512.FusedMultiplyAdd(b, v1, a31);
                a32 = Vector512.FusedMultiplyAdd(b, v2, a32);
                a33 = Vector512.FusedMultiplyAdd(b, v3, a33);
            }
        }
        Store(o, a00, a01, a02, a03);
        Store(o + ldo, a10, a11, a12, a13);
        Store(o + 2 * ldo, a20, a21, a22, a23);
        Store(o + 3 * ldo, a30, a31, a32, a33);
    }

    private static void Store(float* o, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3)
    {
        x0.Store(o);
        x1.Store(o + 16);
        x2.Store(o + 32);
        x3.Store(o + 48);
    }

    /// <summary>
    /// Columns [from, hd) of one row: a Vector512 accumulator per 16 columns, a Vector256 one per 8, then scalar FMAs
    /// (every lane a fused multiply-add, so the widths agree bit for bit).
    /// </summary>
    private static void Row(float* p, int span, int j0, float* values, int ldv, int capacity, int from, int hd, float* o)
    {
        int d = from;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; d + 16 <= hd; d += 16)
            {
                Vector512<float> acc = default;
                for (int j = 0; j < span;)
                {
                    int end = j + RunLength(j, span, j0, capacity, out int ring);
                    for (float* v = values + (long)ring * ldv + d; j < end; j++, v += ldv)
                    {
                        acc = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), Vector512.Load(v), acc);
                    }
                }
                acc.Store(o + d);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; d + 8 <= hd; d += 8)
            {
                Vector256<float> acc = default;
                for (int j = 0; j < span;)
                {
                    int end = j + RunLength(j, span, j0, capacity, out int ring);
                    for (float* v = values + (long)ring * ldv + d; j < end; j++, v += ldv)
                    {
                        acc = Vector256.FusedMultiplyAdd(Vector256.Create(p[j]), Vector256.Load(v), acc);
                    }
                }
                acc.Store(o + d);
            }
        }
        for (; d < hd; d++)
        {
            float acc = 0f;
            for (int j = 0; j < span;)
            {
                int end = j + RunLength(j, span, j0, capacity, out int ring);
                for (float* v = values + (long)ring * ldv + d; j < end; j++, v += ldv)
                {
                    acc = MathF.FusedMultiplyAdd(p[j], *v, acc);
                }
            }
            o[d] = acc;
        }
    }
}
