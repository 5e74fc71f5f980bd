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
/// walking W row after row (one sequential stream per thread). Four rows or more: 4 rows × 2 columns × 2 chunk
/// accumulators = 16 zmm registers over K, so each loaded vector of W feeds four rows of A. Both use the same
/// summation order.
/// </summary>
internal static unsafe class SkinnyGemm
{
    /// <summary>Up to this many rows, streaming W beats packing it.</summary>
    public const int MaxRows = 16;

    /// <summary>Columns of C per cache tile: 32 rows of W (96 KiB at K=768) stay in L2 while all rows of A pass over them.</summary>
    private const int TileColumns = 32;

    /// <summary>How far past the current pair of W rows the 4×2 tiles prefetch, in floats (8 KiB).</summary>
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
        // Each thread streams a long contiguous range of W's 4-row blocks (see StreamingSplit).
        int threads = WorkerPool.Shared.ThreadCount;
        byte* board = stackalloc byte[StreamingSplit.BoardBytes(threads)];
        args.Split = new StreamingSplit((n + 3) / 4, 4L * k * sizeof(float), board, threads);
        WorkerPool.Shared.Run(args.Split.Tasks, &Task, &args);
    }

    private struct SkinnyArgs
    {
        public float* A, B, C;
        public int Lda, Ldb, Ldc, M, N, K;
        public bool Accumulate;
        public StreamingSplit Split;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref SkinnyArgs args = ref *(SkinnyArgs*)argsPointer;
        while (args.Split.TryClaim(task, out int b0, out int b1))
        {
            Columns(ref args, b0 * 4, Math.Min(args.N, b1 * 4));
        }
    }

    /// <summary>C[:, first..last).</summary>
    private static void Columns(ref SkinnyArgs args, int first, int last)
    {
        if (args.M < 4 || !Vector512.IsHardwareAccelerated)
        {
            // One or a few rows (single-stream decoding): walk W row after row, so the thread's weight range is
            // read as one sequential stream. Interleaving four rows of W (four streams 4K floats apart) read
            // 50 GB/s where one stream reads 56-65 GB/s on the same machine (/tmp harness, same process).
            for (int col = first; col < last; col++)
            {
                for (int i = 0; i < args.M; i++)
                {
                    Write(ref args, i, col, Element(ref args, i, col));
                }
            }
            return;
        }
        for (int j0 = first; j0 < last; j0 += TileColumns)
        {
            ColumnTile(ref args, j0, Math.Min(last, j0 + TileColumns));
        }
    }

    /// <summary>Four rows of A or more: 4×2 register tiles reuse each loaded vector of W for four rows.</summary>
    private static void ColumnTile(ref SkinnyArgs args, int j0, int j1)
    {
        int i = 0;
        for (; i + 4 <= args.M; i += 4)
        {
            int j = j0;
            for (; j + 2 <= j1; j += 2)
            {
                Tile4x2(ref args, i, j);
            }
            for (; j < j1; j++)
            {
                for (int r = i; r < i + 4; r++)
                {
                    Write(ref args, r, j, Element(ref args, r, j));
                }
            }
        }
        // The rows left over re-read this tile of W from L2.
        for (; i < args.M; i++)
        {
            for (int j = j0; j < j1; j++)
            {
                Write(ref args, i, j, Element(ref args, i, j));
            }
        }
    }

    /// <summary>C[i, j] by <see cref="RowDot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Element(ref SkinnyArgs args, int i, int j) =>
        RowDot(args.A + (long)i * args.Lda, args.B + (long)j * args.Ldb, args.K);

    /// <summary>
    /// x·w over K with two 16-lane accumulators (even and odd 16-float chunks; a last lone chunk goes to the even
    /// one), summed lane-wise and reduced, then a scalar tail: the summation order of every element of
    /// <see cref="Tile4x2"/>, so a row of C is the same bits whichever tile computed it (row invariance). Two
    /// chains instead of one keep a single stream of W at the read bandwidth (LM head matrix: 52 → 57 GB/s).
    /// </summary>
    private static float RowDot(float* x, float* w, int k)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            // Portable fallback (the RowInvariant path without AVX-512): every element takes this branch, so rows
            // stay invariant there too.
            return TensorPrimitives.Dot(new ReadOnlySpan<float>(x, k), new ReadOnlySpan<float>(w, k));
        }
        Vector512<float> even = default, odd = default;
        int p = 0;
        for (; p + 32 <= k; p += 32)
        {
            even = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(w + p), even);
            odd = Vector512.FusedMultiplyAdd(Vector512.Load(x + p + 16), Vector512.Load(w + p + 16), odd);
        }
        if (p + 16 <= k)
        {
            even = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(w + p), even);
            p += 16;
        }
        float result = Vector512.Sum(even + odd);
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

    /// <summary>Rows i..i+3 of A against columns j, j+1 of B: 16 accumulators (4 rows × 2 columns × even/odd chunks).</summary>
    private static void Tile4x2(ref SkinnyArgs args, int i, int j)
    {
        float* a0 = args.A + (long)i * args.Lda;
        float* a1 = a0 + args.Lda;
        float* a2 = a1 + args.Lda;
        float* a3 = a2 + args.Lda;
        float* w0 = args.B + (long)j * args.Ldb;
        float* w1 = w0 + args.Ldb;
        Vector512<float> e00 = default, o00 = default, e01 = default, o01 = default;
        Vector512<float> e10 = default, o10 = default, e11 = default, o11 = default;
        Vector512<float> e20 = default, o20 = default, e21 = default, o21 = default;
        Vector512<float> e30 = default, o30 = default, e31 = default, o31 = default;
        // When W's rows are adjacent (Ldb = K) the next pair of rows is one run of 2K floats: four lines of it
        // per 32-float step.
        byte* ahead = (byte*)(w0 + 2L * args.Ldb + PrefetchFloats);
        int k = 0;
        for (; k + 32 <= args.K; k += 32)
        {
            Prefetch4Lines(ahead + 8L * k);
            Vector512<float> v0 = Vector512.Load(w0 + k), u0 = Vector512.Load(w0 + k + 16);
            Vector512<float> v1 = Vector512.Load(w1 + k), u1 = Vector512.Load(w1 + k + 16);
            Vector512<float> x = Vector512.Load(a0 + k), y = Vector512.Load(a0 + k + 16);
            e00 = Vector512.FusedMultiplyAdd(x, v0, e00); o00 = Vector512.FusedMultiplyAdd(y, u0, o00);
            e01 = Vector512.FusedMultiplyAdd(x, v1, e01); o01 = Vector512.FusedMultiplyAdd(y, u1, o01);
            x = Vector512.Load(a1 + k); y = Vector512.Load(a1 + k + 16);
            e10 = Vector512.FusedMultiplyAdd(x, v0, e10); o10 = Vector512.FusedMultiplyAdd(y, u0, o10);
            e11 = Vector512.FusedMultiplyAdd(x, v1, e11); o11 = Vector512.FusedMultiplyAdd(y, u1, o11);
            x = Vector512.Load(a2 + k); y = Vector512.Load(a2 + k + 16);
            e20 = Vector512.FusedMultiplyAdd(x, v0, e20); o20 = Vector512.FusedMultiplyAdd(y, u0, o20);
            e21 = Vector512.FusedMultiplyAdd(x, v1, e21); o21 = Vector512.FusedMultiplyAdd(y, u1, o21);
            x = Vector512.Load(a3 + k); y = Vector512.Load(a3 + k + 16);
            e30 = Vector512.FusedMultiplyAdd(x, v0, e30); o30 = Vector512.FusedMultiplyAdd(y, u0, o30);
            e31 = Vector512.FusedMultiplyAdd(x, v1, e31); o31 = Vector512.FusedMultiplyAdd(y, u1, o31);
        }
        if (k + 16 <= args.K)
        {
            Vector512<float> v0 = Vector512.Load(w0 + k), v1 = Vector512.Load(w1 + k);
            Vector512<float> x = Vector512.Load(a0 + k);
            e00 = Vector512.FusedMultiplyAdd(x, v0, e00); e01 = Vector512.FusedMultiplyAdd(x, v1, e01);
            x = Vector512.Load(a1 + k);
            e10 = Vector512.FusedMultiplyAdd(x, v0, e10); e11 = Vector512.FusedMultiplyAdd(x, v1, e11);
            x = Vector512.Load(a2 + k);
            e20 = Vector512.FusedMultiplyAdd(x, v0, e20); e21 = Vector512.FusedMultiplyAdd(x, v1, e21);
            x = Vector512.Load(a3 + k);
            e30 = Vector512.FusedMultiplyAdd(x, v0, e30); e31 = Vector512.FusedMultiplyAdd(x, v1, e31);
            k += 16;
        }
        float* sums = stackalloc float[8];
        sums[0] = Vector512.Sum(e00 + o00); sums[1] = Vector512.Sum(e01 + o01);
        sums[2] = Vector512.Sum(e10 + o10); sums[3] = Vector512.Sum(e11 + o11);
        sums[4] = Vector512.Sum(e20 + o20); sums[5] = Vector512.Sum(e21 + o21);
        sums[6] = Vector512.Sum(e30 + o30); sums[7] = Vector512.Sum(e31 + o31);
        for (; k < args.K; k++)
        {
            float y0 = w0[k], y1 = w1[k];
            float x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
            sums[0] += x0 * y0; sums[1] += x0 * y1;
            sums[2] += x1 * y0; sums[3] += x1 * y1;
            sums[4] += x2 * y0; sums[5] += x2 * y1;
            sums[6] += x3 * y0; sums[7] += x3 * y1;
        }
        for (int r = 0; r < 4; r++)
        {
            Write(ref args, i + r, j, sums[2 * r]);
            Write(ref args, i + r, j + 1, sums[2 * r + 1]);
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
