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
    /// <summary>AVX-VNNI vpdpbusd (u8 × s8 → i32) on 256-bit vectors.</summary>
    Vnni,
    /// <summary>Integer dot products in portable scalar code.</summary>
    Scalar,
}

/// <summary>
/// output (M, N) = input (M, K) · Wᵀ (+ bias) with W quantized (<see cref="QuantizedMatrix"/>) and the input
/// quantized on the fly per row and per group of 32 to int8 (scale_x = max|x_g| / 127). Each group's dot
/// product is exact integer arithmetic; VNNI multiplies unsigned by signed bytes, so x is offset by +128 and
/// the offset removed with the stored scale_w · Σq_w:
///   Σ_k x_k w_k ≈ Σ_g s_xg · s_wg · (Σ (q_x + 128) q_w − 128 · Σ q_w).
/// Every output element is computed the same way whatever the batch, so results are row-invariant.
/// </summary>
public static unsafe class QuantizedMatMul
{
    private const int ColumnsPerTask = 32;

    public static void Forward(float* output, float* input, QuantizedMatrix weights, float* bias, int rows, QuantizedPath path = QuantizedPath.Auto)
    {
        int groups = weights.Groups;
        // Quantized activations: per row, groups × 32 bytes (offset +128) and groups scales.
        byte* activations = (byte*)ScratchArena.Get(ScratchArena.QuantizedActivations, ((long)rows * groups * QuantizedMatrix.GroupSize + 3) / 4 + (long)rows * groups);
        float* activationScales = (float*)(activations + (long)rows * groups * QuantizedMatrix.GroupSize);
        for (int r = 0; r < rows; r++)
        {
            QuantizeRow(input + (long)r * weights.Columns, weights.Columns, activations + (long)r * groups * QuantizedMatrix.GroupSize, activationScales + (long)r * groups);
        }
        var args = new Args
        {
            Output = output, Activations = activations, ActivationScales = activationScales, Bias = bias, Rows = rows,
            Data = weights.Group(0, 0), Scales = weights.Scales, Corrections = weights.Corrections,
            N = weights.Rows, Groups = groups, Int4 = weights.Kind == QuantizationKind.Int4,
            Vnni = path switch { QuantizedPath.Scalar => false, QuantizedPath.Vnni => true, _ => AvxVnni.IsSupported },
        };
        WorkerPool.Shared.Run((weights.Rows + ColumnsPerTask - 1) / ColumnsPerTask, &Task, &args);
    }

    /// <summary>x (K floats) → per group of 32: q + 128 as bytes and the group's scale (max|x| / 127).</summary>
    internal static void QuantizeRow(float* x, int length, byte* q, float* scales)
    {
        int groups = (length + QuantizedMatrix.GroupSize - 1) / QuantizedMatrix.GroupSize;
        for (int g = 0; g < groups; g++)
        {
            int start = g * QuantizedMatrix.GroupSize, count = Math.Min(QuantizedMatrix.GroupSize, length - start);
            float max = 0;
            for (int i = 0; i < count; i++)
            {
                max = MathF.Max(max, MathF.Abs(x[start + i]));
            }
            float scale = max / 127f;
            float inverse = scale == 0 ? 0 : 1 / scale;
            scales[g] = scale;
            byte* destination = q + (long)g * QuantizedMatrix.GroupSize;
            for (int i = 0; i < QuantizedMatrix.GroupSize; i++)
            {
                int value = i < count ? (int)MathF.Round(x[start + i] * inverse) : 0;
                destination[i] = (byte)(Math.Clamp(value, -127, 127) + 128);
            }
        }
    }

    private struct Args
    {
        public float* Output, ActivationScales, Bias, Scales, Corrections;
        public byte* Activations, Data;
        public int Rows, N, Groups;
        public bool Vnni, Int4;

        /// <summary>Group g of weight row r.</summary>
        public readonly byte* Group(int r, int g) => Data + ((long)r * Groups + g) * (Int4 ? 16 : 32);
    }

    private static void Task(void* argsPointer, int task)
    {
        ref Args w = ref *(Args*)argsPointer;
        ref Args args = ref w;
        int groups = w.Groups, n = w.N;
        int j0 = task * ColumnsPerTask, j1 = Math.Min(n, j0 + ColumnsPerTask);
        // Per-group products s_x · s_w of four weight rows, so the inner loop broadcasts one float per group.
        float* combined = args.Vnni ? ScratchArena.Get(ScratchArena.QuantizedScales, 4L * groups) : null;
        for (int i = 0; i < args.Rows; i++)
        {
            byte* x = args.Activations + (long)i * groups * QuantizedMatrix.GroupSize;
            float* sx = args.ActivationScales + (long)i * groups;
            float* y = args.Output + (long)i * n;
            int j = j0;
            if (args.Vnni)
            {
                for (; j + 4 <= j1; j += 4)
                {
                    DotVnni4(w, j, x, sx, combined, y + j);
                }
            }
            for (; j < j1; j++)
            {
                y[j] = args.Vnni ? DotVnni(w, j, x, sx) : DotScalar(w, j, x, sx);
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

    /// <summary>
    /// Four weight rows against one activation row: four independent accumulator chains (one chain waits on FMA
    /// latency every group), the activation group loaded once for all four, and the offset correction
    /// Σ_g s_xg·c_wg done as one vector dot product per row. Same arithmetic per element as <see cref="DotVnni"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotVnni4(in Args w, int row, byte* x, float* sx, float* combined, float* y)
    {
        int groups = w.Groups;
        var activationScales = new ReadOnlySpan<float>(sx, groups);
        for (int r = 0; r < 4; r++)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(activationScales, new ReadOnlySpan<float>(w.Scales + (long)(row + r) * groups, groups),
                new Span<float>(combined + (long)r * groups, groups));
        }
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        bool int4 = w.Int4;
        for (int g = 0; g < groups; g++)
        {
            Vector256<byte> xq = Vector256.Load(x + (long)g * QuantizedMatrix.GroupSize);
            Vector256<sbyte> w0 = int4 ? Unpack4(w.Group(row, g)) : Vector256.Load((sbyte*)w.Group(row, g));
            Vector256<sbyte> w1 = int4 ? Unpack4(w.Group(row + 1, g)) : Vector256.Load((sbyte*)w.Group(row + 1, g));
            Vector256<sbyte> w2 = int4 ? Unpack4(w.Group(row + 2, g)) : Vector256.Load((sbyte*)w.Group(row + 2, g));
            Vector256<sbyte> w3 = int4 ? Unpack4(w.Group(row + 3, g)) : Vector256.Load((sbyte*)w.Group(row + 3, g));
            a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, xq, w0)), Vector256.Create(combined[g]), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, xq, w1)), Vector256.Create(combined[groups + g]), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, xq, w2)), Vector256.Create(combined[2 * groups + g]), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, xq, w3)), Vector256.Create(combined[3 * groups + g]), a3);
        }
        y[0] = Vector256.Sum(a0) - 128f * System.Numerics.Tensors.TensorPrimitives.Dot(activationScales, new ReadOnlySpan<float>(w.Corrections + (long)row * groups, groups));
        y[1] = Vector256.Sum(a1) - 128f * System.Numerics.Tensors.TensorPrimitives.Dot(activationScales, new ReadOnlySpan<float>(w.Corrections + (long)(row + 1) * groups, groups));
        y[2] = Vector256.Sum(a2) - 128f * System.Numerics.Tensors.TensorPrimitives.Dot(activationScales, new ReadOnlySpan<float>(w.Corrections + (long)(row + 2) * groups, groups));
        y[3] = Vector256.Sum(a3) - 128f * System.Numerics.Tensors.TensorPrimitives.Dot(activationScales, new ReadOnlySpan<float>(w.Corrections + (long)(row + 3) * groups, groups));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotVnni(in Args w, int row, byte* x, float* sx)
    {
        int groups = w.Groups;
        float* sw = w.Scales + (long)row * groups;
        float* cw = w.Corrections + (long)row * groups;
        Vector256<float> accumulator = Vector256<float>.Zero;
        bool int4 = w.Int4;
        for (int g = 0; g < groups; g++)
        {
            Vector256<byte> xq = Vector256.Load(x + (long)g * QuantizedMatrix.GroupSize);
            Vector256<sbyte> wq = int4 ? Unpack4(w.Group(row, g)) : Vector256.Load((sbyte*)w.Group(row, g));
            Vector256<int> sums = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, xq, wq);
            accumulator = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), Vector256.Create(sx[g] * sw[g]), accumulator);
        }
        return Vector256.Sum(accumulator) - 128f * System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(sx, groups), new ReadOnlySpan<float>(cw, groups));
    }

    /// <summary>16 packed bytes → 32 signed values: low nibbles are elements 0–15, high nibbles 16–31 (both stored +8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Unpack4(byte* packed)
    {
        Vector128<byte> bytes = Vector128.Load(packed);
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        Vector128<byte> low = bytes & mask;
        Vector128<byte> high = Vector128.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask;
        return (Vector256.Create(low, high) - Vector256.Create((byte)8)).AsSByte();
    }

    private static float DotScalar(in Args w, int row, byte* x, float* sx)
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
                int q = w.Int4 ? (i < 16 ? wg[i] & 0xF : wg[i - 16] >> 4) - 8 : (sbyte)wg[i];
                sum += (xg[i] - 128) * q;
            }
            total += sx[g] * w.Scales[(long)row * groups + g] * sum;
        }
        return total;
    }
}
