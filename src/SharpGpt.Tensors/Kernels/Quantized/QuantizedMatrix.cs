using SharpGpt.Tensors.Memory;

namespace SharpGpt.Tensors.Kernels.Quantized;

/// <summary>Weight formats for quantized inference.</summary>
public enum QuantizationKind
{
    /// <summary>8-bit symmetric per group of 32 (like ggml's q8_0, with an fp32 scale): 1.125 bytes per weight.</summary>
    Int8,
    /// <summary>4-bit symmetric per group of 32 (values −8…7, like q4_0, fp32 scale): 0.625 bytes per weight.</summary>
    Int4,
    /// <summary>
    /// bfloat16: each weight's upper 16 bits (rounded to nearest even), 2 bytes per weight and no scale. Products
    /// widen the weights back to fp32 (exactly) and multiply fp32 activations, so only the weight rounding (at most
    /// 2⁻⁸ of the weight) differs from fp32.
    /// </summary>
    BFloat16,
}

/// <summary>
/// A weight matrix W [N, K] (rows = outputs, x·Wᵀ layout) quantized per row in groups of 32 along K:
/// w ≈ scale_g · q with q = round(w / scale_g), scale_g = max|w_g| / qmax (int8, int4), or w ≈ bf16(w) with no
/// scale (<see cref="QuantizationKind.BFloat16"/>). K is padded to a multiple of 32 with zeros.
/// </summary>
public sealed unsafe class QuantizedMatrix : IDisposable
{
    public const int GroupSize = 32;

    private readonly NativeBuffer _data;
    private readonly NativeBuffer _scales;

    private QuantizedMatrix(QuantizationKind kind, int rows, int columns)
    {
        Kind = kind;
        Rows = rows;
        Columns = columns;
        Groups = (columns + GroupSize - 1) / GroupSize;
        long bytes = (long)rows * Groups * BytesPerGroup;
        _data = new NativeBuffer((bytes + 3) / 4);
        _scales = new NativeBuffer(HasScales ? (long)rows * Groups : 0);
    }

    public QuantizationKind Kind { get; }

    public int Rows { get; }

    public int Columns { get; }

    public int Groups { get; }

    public int BytesPerGroup => Kind switch
    {
        QuantizationKind.Int8 => GroupSize,
        QuantizationKind.Int4 => GroupSize / 2,
        _ => GroupSize * sizeof(ushort),
    };

    /// <summary>Whether each group has a scale (int8, int4) or the values are the weights themselves (bf16).</summary>
    public bool HasScales => Kind != QuantizationKind.BFloat16;

    /// <summary>Bytes streamed per matrix-vector product (weights and scales).</summary>
    public long ByteLength => (long)Rows * Groups * (BytesPerGroup + (HasScales ? sizeof(float) : 0));

    /// <summary>
    /// Group g of row r: 32 signed bytes (int8), 16 bytes holding w[i] in the low and w[i + 16] in the high nibble
    /// (int4, stored +8), or 32 little-endian bf16 values (bf16).
    /// </summary>
    public byte* Group(int row, int group) => (byte*)_data.Pointer + ((long)row * Groups + group) * BytesPerGroup;

    /// <summary>The group scales [Rows, Groups]; null for bf16.</summary>
    public float* Scales => HasScales ? _scales.Pointer : null;

    /// <summary>The packed groups, row after row: Rows × Groups × BytesPerGroup bytes (what a checkpoint stores).</summary>
    public Span<byte> Bytes => new(_data.Pointer, checked((int)((long)Rows * Groups * BytesPerGroup)));

    /// <summary>The group scales [Rows, Groups] (empty for bf16).</summary>
    public Span<float> ScaleValues => _scales.Slice(0, checked((int)_scales.Length));

    /// <summary>A zeroed matrix whose <see cref="Bytes"/> and <see cref="ScaleValues"/> the caller fills (from a checkpoint).</summary>
    public static QuantizedMatrix Allocate(QuantizationKind kind, int rows, int columns) => new(kind, rows, columns);

    public static QuantizedMatrix Quantize(float* weights, int rows, int columns, QuantizationKind kind)
    {
        var matrix = new QuantizedMatrix(kind, rows, columns);
        if (kind == QuantizationKind.BFloat16)
        {
            for (int r = 0; r < rows; r++)
            {
                ushort* destination = (ushort*)matrix.Group(r, 0);
                for (int i = 0; i < columns; i++)
                {
                    destination[i] = ToBFloat16(weights[(long)r * columns + i]);
                }
                // The padding up to whole groups stays zero (the buffer is allocated zeroed).
            }
            return matrix;
        }
        int qmax = kind == QuantizationKind.Int8 ? 127 : 7;
        sbyte* q = stackalloc sbyte[GroupSize];
        for (int r = 0; r < rows; r++)
        {
            float* row = weights + (long)r * columns;
            for (int g = 0; g < matrix.Groups; g++)
            {
                int start = g * GroupSize, count = Math.Min(GroupSize, columns - start);
                float max = 0;
                for (int i = 0; i < count; i++)
                {
                    max = MathF.Max(max, MathF.Abs(row[start + i]));
                }
                float scale = max / qmax;
                float inverse = scale == 0 ? 0 : 1 / scale;
                for (int i = 0; i < GroupSize; i++)
                {
                    int value = i < count ? (int)MathF.Round(row[start + i] * inverse) : 0;
                    q[i] = (sbyte)Math.Clamp(value, -qmax - (kind == QuantizationKind.Int4 ? 1 : 0), qmax);
                }
                long index = (long)r * matrix.Groups + g;
                matrix._scales.Pointer[index] = scale;
                byte* destination = matrix.Group(r, g);
                if (kind == QuantizationKind.Int8)
                {
                    for (int i = 0; i < GroupSize; i++)
                    {
                        destination[i] = (byte)q[i];
                    }
                }
                else
                {
                    for (int i = 0; i < GroupSize / 2; i++)
                    {
                        destination[i] = (byte)((q[i] + 8) | ((q[i + 16] + 8) << 4));
                    }
                }
            }
        }
        return matrix;
    }

    /// <summary>fp32 → bf16, rounding to nearest even (a NaN stays a quiet NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>bf16 → fp32 (exact).</summary>
    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    /// <summary>
    /// Row <paramref name="row"/> dequantized into <paramref name="destination"/> (Columns floats): scale · q, the
    /// values the matmul multiplies by. A quantized model embeds tokens from its quantized token table this way.
    /// </summary>
    public void DequantizeRow(int row, float* destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        new QuantizedRows(this).Dequantize(row, 0, Columns, destination);
    }

    /// <summary>The quantized value of element (row, column) as an integer (int8 and int4; bf16 values are not integers).</summary>
    public int Value(int row, int column) => HasScales
        ? new QuantizedRows(this).Value(Group(row, column / GroupSize), column % GroupSize)
        : throw new InvalidOperationException("bf16 weights are not integers: use Dequantize.");

    /// <summary>w ≈ scale · q (or the bf16 value) for element (row, column).</summary>
    public float Dequantize(int row, int column) => HasScales
        ? Scales[(long)row * Groups + column / GroupSize] * Value(row, column)
        : FromBFloat16(((ushort*)Group(row, 0))[column]);

    public void Dispose()
    {
        _data.Dispose();
        _scales.Dispose();
    }
}
