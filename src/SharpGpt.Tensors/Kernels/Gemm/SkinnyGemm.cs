using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels.Gemm;

/// <summary>
/// C[M×N] (+)= A[M×K] · B[K×N] for few rows M, where rows of A and columns of B are both contiguous in K
/// (the x·Wᵀ product of a linear layer with W stored [out, in]). This is the decoding case: weights are
/// streamed from memory exactly once, with no packing. Fewer than four rows: one dot product per element,
/// walking W row after row (one sequential stream per thread). Four rows or more: 4 rows × 4 columns = 16 zmm
/// accumulators over K, so each loaded vector of W feeds four rows of A. Both use the same summation order.
/// </summary>
internal static unsafe class SkinnyGemm
{
    /// <summary>Up to this many rows, streaming W beats packing it.</summary>
    public const int MaxRows = 16;

    /// <summary>Columns of C per cache tile: 32 rows of W (96 KiB at K=768) stay in L2 while all rows of A pass over them.</summary>
    private const int TileColumns = 32;

    /// <summary>How far past the current 4-row block of W the tiles prefetch, in floats (8 KiB).</summary>
    private const int PrefetchFloats = 2048;

    public static bool Applies(int m, MatrixView a, MatrixView b) =>
        m <= MaxRows && a.ColStride == 1 && b.RowStride == 1 && Vector512.IsHardwareAccelerated;

    public static void Multiply(int m, int n, int k, MatrixView a, MatrixView b, float* c, int ldc, bool accumulate)
    {
        SkinnyArgs args = new()
        {
            A = a.Data, Lda = a.RowStride,
            B = b.Data, Ldb = b.ColStride,
            C = c, Ldc = ldc,
            M = m, N = n, K = k,
            Accumulate = accumulate,
        };
        args.Blocks = (n + 3) / 4;
        // Each thread streams long contiguous ranges of W's 4-row blocks (see WorkerPool.StreamingTaskCount).
        args.Tasks = WorkerPool.Shared.StreamingTaskCount(args.Blocks);
        WorkerPool.Shared.Run(args.Tasks, &Task, &args);
    }

    private struct SkinnyArgs
    {
        public float* A, B, C;
        public int Lda, Ldb, Ldc, M, N, K, Tasks, Blocks;
        public bool Accumulate;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref SkinnyArgs args = ref *(SkinnyArgs*)argsPointer;
        (int b0, int b1) = WorkerPool.Partition(args.Blocks, args.Tasks, task);
        int first = b0 * 4;
        int last = Math.Min(args.N, b1 * 4);
        if (args.M < 4 || !Vector512.IsHardwareAccelerated)
        {
            // One or a few rows (single-stream decoding): walk W row after row, so the thread's weight range is
            // read as one sequential stream. Interleaving four rows of W (four streams 4K floats apart) read
            // 50 GB/s where one stream reads 56-65 GB/s on the same machine (/tmp harness, same process).
            for (int col = first; col < last; col++)
            {
                for (int i = 0; i < args.M; i++)
                {
                    Write(ref args, i, col, RowDot(args.A + (long)i * args.Lda, args.B + (long)col * args.Ldb, args.K));
                }
            }
            return;
        }
        for (int j0 = first; j0 < last; j0 += TileColumns)
        {
            ColumnTile(ref args, j0, Math.Min(last, j0 + TileColumns));
        }
    }

    /// <summary>Four rows of A or more: 4×4 register tiles reuse each loaded vector of W for four rows.</summary>
    private static void ColumnTile(ref SkinnyArgs args, int j0, int j1)
    {
        int i = 0;
        for (; i + 4 <= args.M; i += 4)
        {
            int j = j0;
            for (; j + 4 <= j1; j += 4)
            {
                Tile4x4(ref args, i, j);
            }
            for (; j < j1; j++)
            {
                for (int r = i; r < i + 4; r++)
                {
                    Write(ref args, r, j, RowDot(args.A + (long)r * args.Lda, args.B + (long)j * args.Ldb, args.K));
                }
            }
        }
        // The rows left over re-read this tile of W from L2.
        for (; i < args.M; i++)
        {
            for (int j = j0; j < j1; j++)
            {
                Write(ref args, i, j, RowDot(args.A + (long)i * args.Lda, args.B + (long)j * args.Ldb, args.K));
            }
        }
    }

    /// <summary>
    /// x·w over K with one 16-lane accumulator, then a scalar tail: the summation order of every element of
    /// <see cref="Tile4x4"/>, so a row of C is the same bits whichever tile computed it (row invariance).
    /// </summary>
    private static float RowDot(float* x, float* w, int k)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            // Portable fallback (the RowInvariant path without AVX-512): every element takes this branch, so rows
            // stay invariant there too.
            return TensorPrimitives.Dot(new ReadOnlySpan<float>(x, k), new ReadOnlySpan<float>(w, k));
        }
        Vector512<float> sum = default;
        int p = 0;
        int kVector = k & ~15;
        for (; p < kVector; p += 16)
        {
            sum = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(w + p), sum);
        }
        float result = Vector512.Sum(sum);
        for (; p < k; p++)
        {
            result += x[p] * w[p];
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(ref SkinnyArgs args, int i, int j, float value)
    {
        float* dst = args.C + (long)i * args.Ldc + j;
        *dst = args.Accumulate ? *dst + value : value;
    }

    private static void Tile4x4(ref SkinnyArgs args, int i, int j)
    {
        float* a0 = args.A + (long)i * args.Lda;
        float* a1 = a0 + args.Lda;
        float* a2 = a1 + args.Lda;
        float* a3 = a2 + args.Lda;
        float* w0 = args.B + (long)j * args.Ldb;
        float* w1 = w0 + args.Ldb;
        float* w2 = w1 + args.Ldb;
        float* w3 = w2 + args.Ldb;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        byte* ahead = (byte*)(w0 + 4L * args.Ldb + PrefetchFloats);
        int k = 0;
        int kVector = args.K & ~15;
        for (; k < kVector; k += 16)
        {
            Prefetch4Lines(ahead + 16L * k);
            Vector512<float> v0 = Vector512.Load(w0 + k);
            Vector512<float> v1 = Vector512.Load(w1 + k);
            Vector512<float> v2 = Vector512.Load(w2 + k);
            Vector512<float> v3 = Vector512.Load(w3 + k);
            Vector512<float> x = Vector512.Load(a0 + k);
            s00 = Vector512.FusedMultiplyAdd(x, v0, s00);
            s01 = Vector512.FusedMultiplyAdd(x, v1, s01);
            s02 = Vector512.FusedMultiplyAdd(x, v2, s02);
            s03 = Vector512.FusedMultiplyAdd(x, v3, s03);
            x = Vector512.Load(a1 + k);
            s10 = Vector512.FusedMultiplyAdd(x, v0, s10);
            s11 = Vector512.FusedMultiplyAdd(x, v1, s11);
            s12 = Vector512.FusedMultiplyAdd(x, v2, s12);
            s13 = Vector512.FusedMultiplyAdd(x, v3, s13);
            x = Vector512.Load(a2 + k);
            s20 = Vector512.FusedMultiplyAdd(x, v0, s20);
            s21 = Vector512.FusedMultiplyAdd(x, v1, s21);
            s22 = Vector512.FusedMultiplyAdd(x, v2, s22);
            s23 = Vector512.FusedMultiplyAdd(x, v3, s23);
            x = Vector512.Load(a3 + k);
            s30 = Vector512.FusedMultiplyAdd(x, v0, s30);
            s31 = Vector512.FusedMultiplyAdd(x, v1, s31);
            s32 = Vector512.FusedMultiplyAdd(x, v2, s32);
            s33 = Vector512.FusedMultiplyAdd(x, v3, s33);
        }
        float* sums = stackalloc float[16];
        sums[0] = Vector512.Sum(s00); sums[1] = Vector512.Sum(s01); sums[2] = Vector512.Sum(s02); sums[3] = Vector512.Sum(s03);
        sums[4] = Vector512.Sum(s10); sums[5] = Vector512.Sum(s11); sums[6] = Vector512.Sum(s12); sums[7] = Vector512.Sum(s13);
        sums[8] = Vector512.Sum(s20); sums[9] = Vector512.Sum(s21); sums[10] = Vector512.Sum(s22); sums[11] = Vector512.Sum(s23);
        sums[12] = Vector512.Sum(s30); sums[13] = Vector512.Sum(s31); sums[14] = Vector512.Sum(s32); sums[15] = Vector512.Sum(s33);
        for (; k < args.K; k++)
        {
            float x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
            float y0 = w0[k], y1 = w1[k], y2 = w2[k], y3 = w3[k];
            sums[0] += x0 * y0; sums[1] += x0 * y1; sums[2] += x0 * y2; sums[3] += x0 * y3;
            sums[4] += x1 * y0; sums[5] += x1 * y1; sums[6] += x1 * y2; sums[7] += x1 * y3;
            sums[8] += x2 * y0; sums[9] += x2 * y1; sums[10] += x2 * y2; sums[11] += x2 * y3;
            sums[12] += x3 * y0; sums[13] += x3 * y1; sums[14] += x3 * y2; sums[15] += x3 * y3;
        }
        for (int r = 0; r < 4; r++)
        {
            for (int col = 0; col < 4; col++)
            {
                Write(ref args, i + r, j + col, sums[r * 4 + col]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch4Lines(byte* address)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(address);
            Sse.Prefetch0(address + 64);
            Sse.Prefetch0(address + 128);
            Sse.Prefetch0(address + 192);
        }
    }
}
