using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGpt.Tensors.Kernels.Quantized;

/// <summary>
/// The quantized product's AVX-512BW inner loops (<see cref="QuantizedPath.Avx512"/>). .NET 10 exposes VNNI only
/// on 256-bit vectors, where every group of 32 weights costs a sign, a vpdpbusd, a conversion and a scalar scale
/// multiply and broadcast per weight row; int4 adds a six-instruction nibble unpack, and was compute-bound at
/// 27–36 GB/s whether its weights came from DRAM or L2. Here one 512-bit step covers a <em>unit</em> of 64 weight
/// bytes per row (two int8 groups, or four int4 groups) with vpmaddubsw (u8 × s8 → i16 pairs) and vpmaddwd
/// (→ i32), and converts and scales once per unit instead of once per group.
///
/// Whatever the activation row can do once for all weight rows is done by <see cref="Prepare"/> into a
/// <see cref="UnitBytes"/>-byte block per unit:
/// <list type="bullet">
/// <item>int8: |q_x| (64 bytes), the sign of q_x as 0x00/0xFF (64), and s_x spread over each group's 8 lanes.
/// The weights take the sign of q_x ((w ^ s) − s), the 512-bit form of vpsignb, so the unsigned operand is
/// |q_x| ≤ 127 and a pair sum is at most 2·127·127 = 32,258: vpmaddubsw never saturates.</item>
/// <item>int4: q_x rearranged to match the nibbles: elements 0–15 of the unit's four groups (64 bytes), then
/// elements 16–31 (64), so the low nibbles (w + 8, unsigned 0–15) multiply the first block and the high nibbles
/// the second, no unpacking shuffle needed. The stored +8 is removed in integers: each lane subtracts 8 · Σ q_x
/// over its elements (precomputed, 16 int32). s_x is spread over each group's 4 lanes.</item>
/// </list>
/// Groups past the last whole unit go through <see cref="QuantizedMatMul.GroupDot"/> (256-bit, per group). Every weight row runs
/// the same instructions in the same order whether it is computed alone or in a block of four, so results stay
/// row-invariant.
/// </summary>
internal static unsafe class WideQuantizedDot
{
    /// <summary>Prepared activation bytes per unit: four 64-byte vectors for int4, three (and a spare) for int8.</summary>
    public const int UnitBytes = 256;

    /// <summary>Weight bytes per row per unit (one 512-bit load).</summary>
    public const int UnitWeightBytes = 64;

    public static bool IsSupported => Avx512BW.IsSupported;

    public static int GroupsPerUnit(bool int4) => int4 ? 4 : 2;

    /// <summary>Whole units in a row of <paramref name="groups"/> groups.</summary>
    public static int Units(int groups, bool int4) => groups / GroupsPerUnit(int4);

    /// <summary>
    /// Builds the prepared blocks of one quantized activation row (<paramref name="q"/>: groups × 32 signed bytes,
    /// <paramref name="sx"/>: groups scales) into <paramref name="prepared"/> (<see cref="Units"/> × <see cref="UnitBytes"/>).
    /// </summary>
    public static void Prepare(sbyte* q, float* sx, int groups, bool int4, byte* prepared)
    {
        int units = Units(groups, int4);
        for (int u = 0; u < units; u++)
        {
            byte* block = prepared + (long)u * UnitBytes;
            if (int4)
            {
                sbyte* x = q + u * 4 * QuantizedMatrix.GroupSize;
                for (int j = 0; j < 4; j++)
                {
                    Vector128.Load(x + j * QuantizedMatrix.GroupSize).Store((sbyte*)block + 16 * j);
                    Vector128.Load(x + j * QuantizedMatrix.GroupSize + 16).Store((sbyte*)block + 64 + 16 * j);
                }
                // The lanes' share of 8 · Σ q_x: the same products as the kernel's, with every weight nibble 8.
                Vector512<byte> eight = Vector512.Create((byte)8);
                Vector512<short> pairs = Avx512BW.MultiplyAddAdjacent(eight, Vector512.Load((sbyte*)block))
                    + Avx512BW.MultiplyAddAdjacent(eight, Vector512.Load((sbyte*)block + 64));
                Avx512BW.MultiplyAddAdjacent(pairs, Vector512<short>.One).Store((int*)(block + 128));
                Int4Groups.SpreadScales(sx + 4 * u).Store((float*)(block + 192));
            }
            else
            {
                Vector512<sbyte> x = Vector512.Load(q + u * 2 * QuantizedMatrix.GroupSize);
                Vector512.Abs(x).AsByte().Store(block);
                Vector512.LessThan(x, Vector512<sbyte>.Zero).Store((sbyte*)block + 64);
                Int8Groups.SpreadScales(sx + 2 * u).Store((float*)(block + 128));
            }
        }
    }

    /// <summary>Four adjacent weight rows (each <paramref name="rowBytes"/> apart, scales <paramref name="groups"/> apart) against one prepared activation row.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Dot4<TUnit>(byte* w0, long rowBytes, float* s0, int groups, byte* prepared, int units, int prefetchBytes, float* y)
        where TUnit : struct, IWideUnit
    {
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        float* s1 = s0 + groups, s2 = s1 + groups, s3 = s2 + groups;
        Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        // The four rows are adjacent: the next block is one run of 4 × rowBytes, of which a unit step reads 4 × 64 bytes.
        byte* ahead = w0 + 4 * rowBytes + prefetchBytes;
        int scaleBytesPerUnit = 4 * TUnit.Groups * sizeof(float);
        byte* scalesAhead = (byte*)(s0 + 4 * groups) + prefetchBytes / (QuantizedMatrix.GroupSize / TUnit.Groups);
        for (int u = 0; u < units; u++)
        {
            byte* next = ahead + 4 * UnitWeightBytes * u;
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            Sse.Prefetch0(next + 128);
            Sse.Prefetch0(next + 192);
            Sse.Prefetch0(scalesAhead + scaleBytesPerUnit * u);
            byte* x = prepared + (long)u * UnitBytes;
            Vector512<float> sx = TUnit.ActivationScales(x);
            int offset = u * UnitWeightBytes, scale = u * TUnit.Groups;
            a0 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(TUnit.Dot(w0 + offset, x)), TUnit.SpreadScales(s0 + scale) * sx, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(TUnit.Dot(w1 + offset, x)), TUnit.SpreadScales(s1 + scale) * sx, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(TUnit.Dot(w2 + offset, x)), TUnit.SpreadScales(s2 + scale) * sx, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(TUnit.Dot(w3 + offset, x)), TUnit.SpreadScales(s3 + scale) * sx, a3);
        }
        y[0] = Vector512.Sum(a0);
        y[1] = Vector512.Sum(a1);
        y[2] = Vector512.Sum(a2);
        y[3] = Vector512.Sum(a3);
    }

    /// <summary>One weight row: the same arithmetic as one row of <see cref="Dot4"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Dot1<TUnit>(byte* w, float* s, byte* prepared, int units)
        where TUnit : struct, IWideUnit
    {
        Vector512<float> a = Vector512<float>.Zero;
        for (int u = 0; u < units; u++)
        {
            byte* x = prepared + (long)u * UnitBytes;
            Vector512<float> sx = TUnit.ActivationScales(x);
            a = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(TUnit.Dot(w + u * UnitWeightBytes, x)), TUnit.SpreadScales(s + u * TUnit.Groups) * sx, a);
        }
        return Vector512.Sum(a);
    }

    /// <summary>How one 64-byte unit of a weight row is multiplied; the JIT specialises the loops for each.</summary>
    public interface IWideUnit
    {
        /// <summary>Groups per unit.</summary>
        static abstract int Groups { get; }

        /// <summary>Σ q_x · q_w of the unit as 16 int32 lanes (each lane within one group).</summary>
        static abstract Vector512<int> Dot(byte* weights, byte* prepared);

        /// <summary>A unit's scales (weights' or activations'), each repeated over its group's lanes.</summary>
        static abstract Vector512<float> SpreadScales(float* scales);

        /// <summary>The unit's activation scales, spread by <see cref="SpreadScales"/> in <see cref="Prepare"/>.</summary>
        static abstract Vector512<float> ActivationScales(byte* prepared);
    }

    public struct Int8Groups : IWideUnit
    {
        /// <summary>Two groups of 8 lanes each.</summary>
        public static Vector512<int> ScaleIndex => Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);

        public static int Groups => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> Dot(byte* weights, byte* prepared)
        {
            Vector512<sbyte> sign = Vector512.Load((sbyte*)prepared + 64);
            Vector512<sbyte> signed = (Vector512.Load((sbyte*)weights) ^ sign) - sign;
            return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Load(prepared), signed), Vector512<short>.One);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> SpreadScales(float* scales) =>
            // Two floats: a 64-bit load, so the last unit of the last row reads nothing past its scales.
            Avx512F.PermuteVar16x32(Vector128.CreateScalar(*(double*)scales).AsSingle().ToVector256Unsafe().ToVector512Unsafe(), ScaleIndex);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> ActivationScales(byte* prepared) => Vector512.Load((float*)(prepared + 128));
    }

    public struct Int4Groups : IWideUnit
    {
        /// <summary>Four groups of 4 lanes each.</summary>
        public static Vector512<int> ScaleIndex => Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);

        public static int Groups => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> Dot(byte* weights, byte* prepared)
        {
            Vector512<byte> packed = Vector512.Load(weights), mask = Vector512.Create((byte)0x0F);
            Vector512<byte> low = packed & mask;
            Vector512<byte> high = Vector512.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
            Vector512<short> pairs = Avx512BW.MultiplyAddAdjacent(low, Vector512.Load((sbyte*)prepared))
                + Avx512BW.MultiplyAddAdjacent(high, Vector512.Load((sbyte*)prepared + 64));
            return Avx512BW.MultiplyAddAdjacent(pairs, Vector512<short>.One) - Vector512.Load((int*)(prepared + 128));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> SpreadScales(float* scales) =>
            // Four floats: a 128-bit load, never past the unit's last scale.
            Avx512F.PermuteVar16x32(Vector128.Load(scales).ToVector256Unsafe().ToVector512Unsafe(), ScaleIndex);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> ActivationScales(byte* prepared) => Vector512.Load((float*)(prepared + 192));
    }
}
