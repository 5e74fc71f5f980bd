using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGpt.Tensors.Kernels.Quantized;

/// <summary>
/// The raw layout of a <see cref="QuantizedMatrix"/> as an unmanaged value (what the integer matmul's tasks and
/// the dequantizing GEMM's panel packer read), element decoding, and dequantization of a range of one row:
/// w = scale · q, the values the quantized matmul multiplies by.
/// </summary>
internal unsafe struct QuantizedRows
{
    public byte* Data;
    public float* Scales;
    public int Columns;
    public int Groups;
    public int BytesPerGroup;
    public bool Int4;
    public bool BFloat16;

    public QuantizedRows(QuantizedMatrix matrix)
    {
        Data = matrix.Group(0, 0);
        Scales = matrix.Scales;
        Columns = matrix.Columns;
        Groups = matrix.Groups;
        BytesPerGroup = matrix.BytesPerGroup;
        Int4 = matrix.Kind == QuantizationKind.Int4;
        BFloat16 = matrix.Kind == QuantizationKind.BFloat16;
    }

    /// <summary>Group g of row r (see <see cref="QuantizedMatrix.Group"/>).</summary>
    public readonly byte* Group(int row, int g) => Data + ((long)row * Groups + g) * BytesPerGroup;

    /// <summary>
    /// Columns [k0, k0 + count) of row <paramref name="row"/> into destination[0 .. count). k0 is a multiple of the
    /// group size. Whole groups go through AVX-512 (sign- or zero-extend, convert, one multiply by the scale), the
    /// rest through the same arithmetic in scalar code, so both give the same bits. bf16 values widen exactly.
    /// </summary>
    public readonly void Dequantize(int row, int k0, int count, float* destination)
    {
        const int G = QuantizedMatrix.GroupSize;
        int end = k0 + count;
        if (BFloat16)
        {
            ushort* values = (ushort*)Group(row, 0) + k0;
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 32 <= count; i += 32)
                {
                    (Vector512<float> low, Vector512<float> high) = WidenBFloat16(values + i);
                    low.Store(destination + i);
                    high.Store(destination + i + 16);
                }
            }
            for (; i < count; i++)
            {
                destination[i] = QuantizedMatrix.FromBFloat16(values[i]);
            }
            return;
        }
        for (int g = k0 / G, start = k0; start < end; g++, start += G)
        {
            byte* group = Group(row, g);
            float scale = Scales[(long)row * Groups + g];
            float* dst = destination + (start - k0);
            int n = Math.Min(G, end - start);
            if (n == G && Avx512F.IsSupported)
            {
                Vector512<int> low, high;
                if (Int4)
                {
                    // Element i < 16 is the low nibble of byte i, element i + 16 its high nibble; both stored + 8.
                    Vector128<byte> packed = Vector128.Load(group);
                    low = Avx512F.ConvertToVector512Int32(packed & Vector128.Create((byte)0xF)) - Vector512.Create(8);
                    high = Avx512F.ConvertToVector512Int32(Vector128.ShiftRightLogical(packed, 4)) - Vector512.Create(8);
                }
                else
                {
                    low = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)group));
                    high = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)group + 16));
                }
                Vector512<float> s = Vector512.Create(scale);
                (Vector512.ConvertToSingle(low) * s).Store(dst);
                (Vector512.ConvertToSingle(high) * s).Store(dst + 16);
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                dst[i] = scale * Value(group, i);
            }
        }
    }

    /// <summary>Element <paramref name="i"/> (0–31) of a group as an integer.</summary>
    public readonly int Value(byte* group, int i)
    {
        if (!Int4)
        {
            return (sbyte)group[i];
        }
        byte packed = group[i % 16];
        return (i < 16 ? packed & 0xF : packed >> 4) - 8;
    }

    /// <summary>32 bf16 values → 32 floats (exact: a bf16 is the upper half of the fp32 bit pattern).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<float> Low, Vector512<float> High) WidenBFloat16(ushort* values)
    {
        Vector512<ushort> packed = Vector512.Load(values);
        return (Vector512.ShiftLeft(Vector512.WidenLower(packed), 16).AsSingle(), Vector512.ShiftLeft(Vector512.WidenUpper(packed), 16).AsSingle());
    }

    /// <summary>16 packed bytes → 32 signed values: low nibbles are elements 0–15, high nibbles 16–31 (both stored +8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Unpack4(byte* packed)
    {
        Vector128<byte> bytes = Vector128.Load(packed);
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        Vector128<byte> low = bytes & mask;
        Vector128<byte> high = Vector128.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask;
        return (Vector256.Create(low, high) - Vector256.Create((byte)8)).AsSByte();
    }
}
