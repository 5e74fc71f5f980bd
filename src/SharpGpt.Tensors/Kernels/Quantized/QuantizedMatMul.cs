using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels.Quantized;

/// <summary>Which inner loop a quantized product uses; tests force each.</summary>
public enum QuantizedPath
{
    Auto,
    /// <summary>AVX-VNNI vpdpbusd (u8 × s8 → i32) on 256-bit vectors, one group per step.</summary>
    Vnni,
    /// <summary>AVX-512BW vpmaddubsw + vpmaddwd on 512-bit vectors, two int8 or four int4 groups per step (<see cref="WideQuantizedDot"/>).</summary>
    Avx512,
    /// <summary>
    /// AVX2 vpmaddubsw + vpmaddwd on 256-bit vectors, one group per step: the same integers as <see cref="Vnni"/> in
    /// two instructions instead of one, for AVX2 processors without AVX-VNNI or AVX-512BW (Haswell to Comet Lake,
    /// Zen 1–3).
    /// </summary>
    Avx2,
    /// <summary>Integer dot products in portable scalar code.</summary>
    Scalar,
}

/// <summary>
/// output (M, N) = input (M, K) · Wᵀ (+ bias) with W quantized (<see cref="QuantizedMatrix"/>) and the input
/// quantized on the fly per row and per group of 32 to int8 (scale_x = max|x_g| / 127):
///   Σ_k x_k w_k ≈ Σ_g s_xg · s_wg · Σ q_x q_w.
/// Each group's dot product is exact integer arithmetic. VNNI's vpdpbusd multiplies unsigned by signed bytes, so
/// the sign of q_x moves onto q_w (|q_x| · sign(q_x)·q_w, as ggml does): no offset, no correction term.
/// Every output element is computed the same way whatever the batch, so results are row-invariant.
/// bf16 weights skip all of this: <see cref="BFloat16MatMul"/> multiplies them in fp32.
/// </summary>
public static unsafe class QuantizedMatMul
{
    /// <summary>
    /// How far past the current 4-row block the kernels prefetch, in weight bytes. Prefetching the block after
    /// next-ish covers DRAM latency at ≈25 GB/s per core; 4–8 KiB measured best (no prefetch 43 GB/s, 8 KiB 47).
    /// </summary>
    private const int PrefetchBytes = 8192;

    /// <summary>Weight rows per cache tile (a multiple of 4): 32 int8 rows of K = 3072 are 96 KiB, within L2.</summary>
    private const int TileColumns = 32;

    public static void Forward(float* output, float* input, QuantizedMatrix weights, float* bias, int rows, QuantizedPath path = QuantizedPath.Auto)
    {
        if (weights.Kind == QuantizationKind.BFloat16)
        {
            // fp32 activations against widened weights: no integer path, only vectorised or scalar.
            BFloat16MatMul.Forward(output, input, weights, bias, rows, path == QuantizedPath.Scalar ? BFloat16MatMul.Width.Scalar : BFloat16MatMul.Width.Auto);
            return;
        }
        int groups = weights.Groups;
        bool int4 = weights.Kind == QuantizationKind.Int4;
        QuantizedPath chosen = path != QuantizedPath.Auto ? path : DefaultPath(weights.Kind);
        // Checked here: an instruction-set fault inside a worker task would end the process.
        (bool supported, string instructions) = chosen switch
        {
            QuantizedPath.Vnni => (AvxVnni.IsSupported, "AVX-VNNI"),
            QuantizedPath.Avx512 => (WideQuantizedDot.IsSupported, "AVX-512BW"),
            QuantizedPath.Avx2 => (Avx2.IsSupported && Fma.IsSupported, "AVX2 and FMA"),
            _ => (true, ""),
        };
        if (!supported)
        {
            throw new PlatformNotSupportedException($"The {chosen} quantized path needs {instructions}, which this processor lacks.");
        }
        int units = chosen == QuantizedPath.Avx512 ? WideQuantizedDot.Units(groups, int4) : 0;
        // Quantized activations: per row, groups × 32 signed bytes, then per row groups scales, then per row the
        // wide kernels' prepared units.
        long quantizedBytes = (long)rows * groups * QuantizedMatrix.GroupSize, scaleBytes = (long)rows * groups * sizeof(float);
        long preparedOffset = (quantizedBytes + scaleBytes + 63) & ~63L, preparedRowBytes = (long)units * WideQuantizedDot.UnitBytes;
        byte* activations = (byte*)ScratchArena.Get(ScratchArena.QuantizedActivations, (preparedOffset + rows * preparedRowBytes + 3) / 4);
        float* activationScales = (float*)(activations + quantizedBytes);
        byte* prepared = activations + preparedOffset;
        for (int r = 0; r < rows; r++)
        {
            sbyte* q = (sbyte*)activations + (long)r * groups * QuantizedMatrix.GroupSize;
            QuantizeRow(input + (long)r * weights.Columns, weights.Columns, (byte*)q, activationScales + (long)r * groups);
            if (units > 0)
            {
                WideQuantizedDot.Prepare(q, activationScales + (long)r * groups, groups, int4, prepared + r * preparedRowBytes);
            }
        }
        var args = new Args
        {
            Output = output, Activations = activations, ActivationScales = activationScales, Bias = bias, Rows = rows,
            Weights = new QuantizedRows(weights), N = weights.Rows,
            Path = chosen, Prepared = prepared, PreparedRowBytes = preparedRowBytes, Units = units,
        };
        // Each thread streams a long contiguous range of 4-row blocks (see StreamingSplit).
        int threads = WorkerPool.Shared.ThreadCount;
        byte* board = stackalloc byte[StreamingSplit.BoardBytes(threads)];
        args.Split = new StreamingSplit((weights.Rows + 3) / 4, 4L * groups * weights.BytesPerGroup, board, threads);
        WorkerPool.Shared.Run(args.Split.Tasks, &Task, &args);
    }

    /// <summary>
    /// x (K floats) → per group of 32: q as signed bytes (−127…127, zero-padded) and the group's scale (max|x| / 127).
    /// On 256-bit vectors (it runs once per input row of every quantized product, 12 µs a token on GPT-2 in scalar
    /// code); the rounding (to nearest, ties to even) and clamping are those of the plain loop in
    /// <see cref="Reference.ReferenceQuantizedMatMul.QuantizeRow"/>, so the bytes are identical (tested).
    /// </summary>
    internal static void QuantizeRow(float* x, int length, byte* q, float* scales)
    {
        int fullGroups = length / QuantizedMatrix.GroupSize;
        for (int g = 0; g < fullGroups; g++)
        {
            QuantizeGroup(x + g * QuantizedMatrix.GroupSize, (sbyte*)q + g * QuantizedMatrix.GroupSize, scales + g);
        }
        int rest = length - fullGroups * QuantizedMatrix.GroupSize;
        if (rest > 0)
        {
            // A partial last group, zero-padded: zeros change neither the maximum nor their own bytes (0).
            float* padded = stackalloc float[QuantizedMatrix.GroupSize];
            new Span<float>(padded, QuantizedMatrix.GroupSize).Clear();
            Buffer.MemoryCopy(x + fullGroups * QuantizedMatrix.GroupSize, padded, rest * sizeof(float), rest * sizeof(float));
            QuantizeGroup(padded, (sbyte*)q + fullGroups * QuantizedMatrix.GroupSize, scales + fullGroups);
        }
    }

    /// <summary>One group of 32 floats → 32 signed bytes and its scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeGroup(float* x, sbyte* q, float* scale)
    {
        Vector256<float> v0 = Vector256.Load(x), v1 = Vector256.Load(x + 8);
        Vector256<float> v2 = Vector256.Load(x + 16), v3 = Vector256.Load(x + 24);
        Vector256<float> magnitudes = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
        Vector128<float> half = Vector128.Max(magnitudes.GetLower(), magnitudes.GetUpper());
        float max = MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
        *scale = max / 127f;
        Vector256<float> factor = Vector256.Create(*scale == 0 ? 0 : 1 / *scale);
        Vector256<short> low = Vector256.Narrow(Quantize(v0, factor), Quantize(v1, factor));
        Vector256<short> high = Vector256.Narrow(Quantize(v2, factor), Quantize(v3, factor));
        Vector256.Narrow(low, high).Store(q);
    }

    /// <summary>round(v · inverse) clamped to ±127, as int32 (exact: the products are at most 127 in magnitude).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quantize(Vector256<float> v, Vector256<float> inverse)
    {
        Vector256<int> rounded = Vector256.ConvertToInt32(Vector256.Round(v * inverse));
        return Vector256.Min(Vector256.Max(rounded, Vector256.Create(-127)), Vector256.Create(127));
    }

    /// <summary>
    /// The fastest path this machine has for the kind. int4: AVX-512BW needs a quarter of the VNNI path's
    /// instructions and reads its weights twice as fast (GPT-2 decode matrices, one row, same process: 28–33 →
    /// 48–64 GB/s from DRAM). int8: the two are level from DRAM (both at the read rate; AVX-512 ≈ 10 % faster
    /// only from cache), so VNNI stays where the machine has it, and AVX-512 replaces the scalar loop on AVX-512
    /// machines without AVX-VNNI (Zen 4, Ice Lake and older Xeons).
    /// </summary>
    public static QuantizedPath DefaultPath(QuantizationKind kind) => kind switch
    {
        QuantizationKind.Int4 when WideQuantizedDot.IsSupported => QuantizedPath.Avx512,
        _ when AvxVnni.IsSupported => QuantizedPath.Vnni,
        _ when WideQuantizedDot.IsSupported => QuantizedPath.Avx512,
        _ when Avx2.IsSupported && Fma.IsSupported => QuantizedPath.Avx2,
        _ => QuantizedPath.Scalar,
    };

    private struct Args
    {
        public float* Output, ActivationScales, Bias;
        public byte* Activations, Prepared;
        public long PreparedRowBytes;
        public QuantizedRows Weights;
        public int Rows, N, Units;
        public QuantizedPath Path;
        public StreamingSplit Split;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        while (args.Split.TryClaim(task, out int b0, out int b1))
        {
            Rows(ref args, b0 * 4, Math.Min(args.N, b1 * 4));
        }
    }

    /// <summary>Outputs first..last of every input row.</summary>
    private static void Rows(ref Args args, int first, int last)
    {
        ref readonly QuantizedRows weights = ref args.Weights;
        int groups = weights.Groups, n = args.N;
        long rowBytes = (long)groups * weights.BytesPerGroup;
        // Tiles of TileColumns weight rows: with several input rows, a tile is read from DRAM once and stays in
        // L1/L2 while every input row uses it.
        for (int j0 = first; j0 < last; j0 += TileColumns)
        {
            int j1 = Math.Min(last, j0 + TileColumns);
            for (int i = 0; i < args.Rows; i++)
            {
                byte* x = args.Activations + (long)i * groups * QuantizedMatrix.GroupSize;
                float* sx = args.ActivationScales + (long)i * groups;
                float* y = args.Output + (long)i * n;
                int j = j0;
                if (args.Path == QuantizedPath.Avx512)
                {
                    byte* prepared = args.Prepared + i * args.PreparedRowBytes;
                    int units = args.Units, tailGroup = units * WideQuantizedDot.GroupsPerUnit(weights.Int4);
                    for (; j + 4 <= j1; j += 4)
                    {
                        byte* data = weights.Data + j * rowBytes;
                        float* scales = weights.Scales + (long)j * groups;
                        if (weights.Int4)
                        {
                            WideQuantizedDot.Dot4<WideQuantizedDot.Int4Groups>(data, rowBytes, scales, groups, prepared, units, PrefetchBytes, y + j);
                        }
                        else
                        {
                            WideQuantizedDot.Dot4<WideQuantizedDot.Int8Groups>(data, rowBytes, scales, groups, prepared, units, PrefetchBytes, y + j);
                        }
                        if (tailGroup < groups)
                        {
                            for (int t = j; t < j + 4; t++)
                            {
                                y[t] += GroupDot(weights, t, tailGroup, x, sx);
                            }
                        }
                    }
                    for (; j < j1; j++)
                    {
                        byte* data = weights.Data + j * rowBytes;
                        float* scales = weights.Scales + (long)j * groups;
                        y[j] = weights.Int4
                            ? WideQuantizedDot.Dot1<WideQuantizedDot.Int4Groups>(data, scales, prepared, units)
                            : WideQuantizedDot.Dot1<WideQuantizedDot.Int8Groups>(data, scales, prepared, units);
                        if (tailGroup < groups)
                        {
                            y[j] += GroupDot(weights, j, tailGroup, x, sx);
                        }
                    }
                }
                // VNNI and AVX2 give the same integers; they differ only in how a group's byte products are summed.
                bool bytePairs = args.Path is QuantizedPath.Vnni or QuantizedPath.Avx2;
                for (; bytePairs && j + 4 <= j1; j += 4)
                {
                    byte* data = weights.Data + j * rowBytes;
                    float* scales = weights.Scales + (long)j * groups;
                    switch (weights.Int4, args.Path == QuantizedPath.Vnni)
                    {
                        case (true, true):
                            Dot4<Int4Groups, VnniProducts>(data, rowBytes, x, sx, scales, groups, y + j);
                            break;
                        case (false, true):
                            Dot4<Int8Groups, VnniProducts>(data, rowBytes, x, sx, scales, groups, y + j);
                            break;
                        case (true, false):
                            Dot4<Int4Groups, Avx2Products>(data, rowBytes, x, sx, scales, groups, y + j);
                            break;
                        case (false, false):
                            Dot4<Int8Groups, Avx2Products>(data, rowBytes, x, sx, scales, groups, y + j);
                            break;
                    }
                }
                for (; j < j1; j++)
                {
                    y[j] = bytePairs ? GroupDot(weights, j, 0, x, sx) : DotScalar(weights, j, x, sx);
                }
                if (args.Bias != null)
                {
                    for (j = j0; j < j1; j++)
                    {
                        y[j] += args.Bias[j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Four weight rows (each <paramref name="rowBytes"/> apart, scales <paramref name="groups"/> apart) against
    /// one activation row: four independent accumulator chains, and the activation group loaded, and its sign
    /// split off, once for all four rows. Not inlined, so that the JIT keeps every value in a register (inlined
    /// into the task loop, it spilled the accumulators to the stack and ran 4× slower); generic over the storage
    /// and the byte-product instructions so that the JIT specialises both. Same arithmetic per element as
    /// <see cref="GroupDot"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Dot4<TGroups, TProducts>(byte* w0, long rowBytes, byte* x, float* sx, float* s0, int groups, float* y)
        where TGroups : struct, IWeightGroups
        where TProducts : struct, IBytePairProducts
    {
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        float* s1 = s0 + groups, s2 = s1 + groups, s3 = s2 + groups;
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        // The four rows are adjacent, so the next block is one run of 4 × rowBytes: 4 × BytesPerGroup of it per
        // group (two lines for int8, one for int4). Scales are 4 bytes per group.
        int blockBytesPerGroup = 4 * TGroups.BytesPerGroup;
        byte* ahead = w0 + 4 * rowBytes + PrefetchBytes;
        byte* scalesAhead = (byte*)(s0 + 4 * groups) + PrefetchBytes * sizeof(float) / TGroups.BytesPerGroup;
        for (int g = 0; g < groups; g++)
        {
            byte* next = ahead + (long)blockBytesPerGroup * g;
            Sse.Prefetch0(next);
            if (blockBytesPerGroup > 64)
            {
                Sse.Prefetch0(next + 64);
            }
            Sse.Prefetch0(scalesAhead + 16 * g);
            Vector256<sbyte> xq = Vector256.Load((sbyte*)x + g * QuantizedMatrix.GroupSize);
            Vector256<byte> magnitude = Avx2.Abs(xq);
            float scale = sx[g];
            int offset = g * TGroups.BytesPerGroup;
            Vector256<int> d0 = TProducts.Sum4(magnitude, Avx2.Sign(TGroups.Load(w0 + offset), xq));
            Vector256<int> d1 = TProducts.Sum4(magnitude, Avx2.Sign(TGroups.Load(w1 + offset), xq));
            Vector256<int> d2 = TProducts.Sum4(magnitude, Avx2.Sign(TGroups.Load(w2 + offset), xq));
            Vector256<int> d3 = TProducts.Sum4(magnitude, Avx2.Sign(TGroups.Load(w3 + offset), xq));
            a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(d0), Vector256.Create(scale * s0[g]), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(d1), Vector256.Create(scale * s1[g]), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(d2), Vector256.Create(scale * s2[g]), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(d3), Vector256.Create(scale * s3[g]), a3);
        }
        y[0] = Vector256.Sum(a0);
        y[1] = Vector256.Sum(a1);
        y[2] = Vector256.Sum(a2);
        y[3] = Vector256.Sum(a3);
    }

    /// <summary>
    /// Unsigned × signed byte products summed in fours into 8 int32 lanes; the JIT specialises <see cref="Dot4"/>
    /// for each. Magnitudes are ≤ 127 and weights within ±127, so a pair of products (≤ 32,258) never saturates
    /// vpmaddubsw's int16 and both give the same integers.
    /// </summary>
    private interface IBytePairProducts
    {
        static abstract Vector256<int> Sum4(Vector256<byte> magnitude, Vector256<sbyte> signedWeights);
    }

    /// <summary>vpdpbusd: one instruction.</summary>
    private struct VnniProducts : IBytePairProducts
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sum4(Vector256<byte> magnitude, Vector256<sbyte> signedWeights) =>
            AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, magnitude, signedWeights);
    }

    /// <summary>vpmaddubsw (pairs into int16) then vpmaddwd against ones (pairs of those into int32).</summary>
    private struct Avx2Products : IBytePairProducts
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sum4(Vector256<byte> magnitude, Vector256<sbyte> signedWeights) =>
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, signedWeights), Vector256<short>.One);
    }

    /// <summary>How one group of 32 weights is stored; the JIT specialises <see cref="Dot4"/> for each.</summary>
    private interface IWeightGroups
    {
        static abstract int BytesPerGroup { get; }

        /// <summary>The group's 32 weights as signed bytes.</summary>
        static abstract Vector256<sbyte> Load(byte* group);
    }

    private struct Int8Groups : IWeightGroups
    {
        public static int BytesPerGroup => QuantizedMatrix.GroupSize;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* group) => Vector256.Load((sbyte*)group);
    }

    private struct Int4Groups : IWeightGroups
    {
        public static int BytesPerGroup => QuantizedMatrix.GroupSize / 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* group) => QuantizedRows.Unpack4(group);
    }

    /// <summary>
    /// Groups [<paramref name="firstGroup"/>, Groups) of one weight row, one 256-bit step per group (vpsignb,
    /// vpmaddubsw, vpmaddwd: the same integers as vpdpbusd, so the same bits as a row of <see cref="Dot4"/>),
    /// summed in group order: the VNNI path's rows outside 4-row blocks, and the wide path's groups past its
    /// last whole unit.
    /// </summary>
    internal static float GroupDot(in QuantizedRows w, int row, int firstGroup, byte* x, float* sx)
    {
        float* sw = w.Scales + (long)row * w.Groups;
        Vector256<float> accumulator = Vector256<float>.Zero;
        for (int g = firstGroup; g < w.Groups; g++)
        {
            Vector256<sbyte> xq = Vector256.Load((sbyte*)x + (long)g * QuantizedMatrix.GroupSize);
            byte* group = w.Group(row, g);
            Vector256<sbyte> wq = Avx2.Sign(w.Int4 ? QuantizedRows.Unpack4(group) : Vector256.Load((sbyte*)group), xq);
            Vector256<int> sums = Avx2Products.Sum4(Avx2.Abs(xq), wq);
            accumulator = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), Vector256.Create(sx[g] * sw[g]), accumulator);
        }
        return Vector256.Sum(accumulator);
    }

    private static float DotScalar(in QuantizedRows w, int row, byte* x, float* sx)
    {
        int groups = w.Groups;
        float total = 0;
        for (int g = 0; g < groups; g++)
        {
            int sum = 0;
            byte* xg = x + (long)g * QuantizedMatrix.GroupSize;
            byte* wg = w.Group(row, g);
            for (int i = 0; i < QuantizedMatrix.GroupSize; i++)
            {
                sum += (sbyte)xg[i] * w.Value(wg, i);
            }
            total += sx[g] * w.Scales[(long)row * groups + g] * sum;
        }
        return total;
    }
}
