using System.Runtime.InteropServices;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Inference;
using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Model.Checkpoints.Quantized;

/// <summary>
/// How `sharpgpt quantize` stores quantized weights inside an otherwise ordinary Hugging Face folder. model.safetensors
/// keeps every tensor that stays fp32 (embeddings, LayerNorms, biases) under its usual name and holds each quantized
/// matrix as two tensors under its SharpGPT name: "sharpgpt_quantized.&lt;tensor&gt;.q", the packed groups
/// (I8 [rows, groups·32] for int8; U8 [rows, groups·16] for q4, two 4-bit values per byte as
/// <see cref="QuantizedMatrix.Group"/> describes; BF16 [rows, groups·32] for bf16), and, for int8 and q4,
/// "sharpgpt_quantized.&lt;tensor&gt;.scales" (F32 [rows, groups]).
/// For bf16 the columns past the matrix's own (padding up to whole groups of 32) must be zero.
/// The file's metadata entry "sharpgpt.quantization" names the kind; the tensors are those of
/// <see cref="QuantizedWeights.SourceTensors"/> ("wte" is the tied output head).
/// </summary>
public static class QuantizedCheckpoint
{
    public const string TensorPrefix = "sharpgpt_quantized.";
    public const string MetadataKey = "sharpgpt.quantization";

    /// <summary>The name a user types and the metadata records: int8, q4 or bf16.</summary>
    public static string KindName(QuantizationKind kind) => kind switch
    {
        QuantizationKind.Int8 => "int8",
        QuantizationKind.Int4 => "q4",
        _ => "bf16",
    };

    /// <summary>Bits per stored weight (what config.json's quantization_config records).</summary>
    public static int Bits(QuantizationKind kind) => kind switch
    {
        QuantizationKind.Int8 => 8,
        QuantizationKind.Int4 => 4,
        _ => 16,
    };

    public static bool IsQuantizedTensor(string name) => name.StartsWith(TensorPrefix, StringComparison.Ordinal);

    /// <summary>The quantization a weights file records, or null for a plain fp32/fp16/bf16 file.</summary>
    public static QuantizationKind? KindOf(SafetensorsFile file)
    {
        if (!file.Metadata.TryGetValue(MetadataKey, out string? name))
        {
            return file.Tensors.Keys.Any(IsQuantizedTensor)
                ? throw new CheckpointException($"{file.Path}: holds {TensorPrefix}* tensors but no '{MetadataKey}' metadata entry.")
                : null;
        }
        return name switch
        {
            "int8" => QuantizationKind.Int8,
            "q4" => QuantizationKind.Int4,
            "bf16" => QuantizationKind.BFloat16,
            _ => throw new CheckpointException($"{file.Path}: unknown quantization '{name}' in its metadata (expected int8, q4 or bf16)."),
        };
    }

    /// <summary>The tensors that store <paramref name="weights"/>, written straight from the matrices' memory.</summary>
    public static IReadOnlyList<SafetensorsBytesSource> Tensors(QuantizedWeights weights, ParameterLayout layout)
    {
        var tensors = new List<SafetensorsBytesSource>();
        foreach ((ParameterTensor source, QuantizedMatrix matrix) in QuantizedWeights.SourceTensors(layout).Zip(weights.Matrices))
        {
            tensors.Add(new SafetensorsBytesSource(TensorPrefix + source.Name + ".q", DataType(matrix.Kind), DataShape(matrix),
                stream => stream.Write(matrix.Bytes)));
            if (!matrix.HasScales)
            {
                continue;
            }
            tensors.Add(new SafetensorsBytesSource(TensorPrefix + source.Name + ".scales", SafetensorsDType.F32, [matrix.Rows, matrix.Groups],
                stream => stream.Write(MemoryMarshal.AsBytes(matrix.ScaleValues))));
        }
        return tensors;
    }

    /// <summary>
    /// Reads the quantized matrices of a model with <paramref name="layout"/>; <paramref name="find"/> looks a tensor
    /// up by name across the folder's files and fails when it is missing. Every shape, dtype and scale is checked.
    /// </summary>
    public static QuantizedWeights Read(ParameterLayout layout, QuantizationKind kind, Func<string, (SafetensorsFile File, SafetensorsEntry Entry)> find)
    {
        var matrices = new List<QuantizedMatrix>();
        try
        {
            foreach (ParameterTensor source in QuantizedWeights.SourceTensors(layout))
            {
                QuantizedMatrix matrix = QuantizedMatrix.Allocate(kind, source.Shape[0], source.Shape[1]);
                matrices.Add(matrix);
                (SafetensorsFile file, SafetensorsEntry data) = find(TensorPrefix + source.Name + ".q");
                CheckShape(file, data, DataShape(matrix));
                file.ReadBytes(data, DataType(kind), matrix.Bytes);
                // The kernels negate weights with vpsignb, which cannot negate −128; the quantizer never writes it.
                if (kind == QuantizationKind.Int8 && matrix.Bytes.IndexOf(unchecked((byte)sbyte.MinValue)) >= 0)
                {
                    throw new CheckpointException($"{file.Path}: tensor '{data.Name}' holds −128, outside the symmetric int8 range [−127, 127].");
                }
                if (!matrix.HasScales)
                {
                    CheckBFloat16(file, data, matrix);
                    continue;
                }
                (file, SafetensorsEntry scales) = find(TensorPrefix + source.Name + ".scales");
                CheckShape(file, scales, [matrix.Rows, matrix.Groups]);
                file.ReadBytes(scales, SafetensorsDType.F32, MemoryMarshal.AsBytes(matrix.ScaleValues));
                foreach (float scale in matrix.ScaleValues)
                {
                    if (!float.IsFinite(scale) || scale < 0)
                    {
                        throw new CheckpointException($"{file.Path}: tensor '{scales.Name}' holds the scale {scale}; scales must be finite and non-negative.");
                    }
                }
            }
            return QuantizedWeights.FromMatrices(kind, matrices);
        }
        catch
        {
            matrices.ForEach(m => m.Dispose());
            throw;
        }
    }

    /// <summary>
    /// bf16 weights have no scale to check; instead every value must be finite (an overflow when the file was
    /// written) and the padding columns zero (the kernels read whole groups).
    /// </summary>
    private static unsafe void CheckBFloat16(SafetensorsFile file, SafetensorsEntry data, QuantizedMatrix matrix)
    {
        int stored = matrix.Groups * QuantizedMatrix.GroupSize;
        for (int r = 0; r < matrix.Rows; r++)
        {
            ushort* row = (ushort*)matrix.Group(r, 0);
            for (int c = 0; c < stored; c++)
            {
                // Exponent bits all ones: infinity or NaN.
                if ((row[c] & 0x7F80) == 0x7F80 || (c >= matrix.Columns && row[c] != 0))
                {
                    throw new CheckpointException(c < matrix.Columns
                        ? $"{file.Path}: tensor '{data.Name}' holds {(float.IsNaN(QuantizedMatrix.FromBFloat16(row[c])) ? "NaN" : "an infinity")} at [{r}, {c}]; weights must be finite."
                        : $"{file.Path}: tensor '{data.Name}' holds a non-zero value at [{r}, {c}], in the padding past column {matrix.Columns}.");
                }
            }
        }
    }

    private static SafetensorsDType DataType(QuantizationKind kind) => kind switch
    {
        QuantizationKind.Int8 => SafetensorsDType.I8,
        QuantizationKind.Int4 => SafetensorsDType.U8,
        _ => SafetensorsDType.BF16,
    };

    /// <summary>Int8 and q4 store bytes, bf16 values of 2 bytes: the column count is the stored elements per row.</summary>
    private static long[] DataShape(QuantizedMatrix matrix) =>
        [matrix.Rows, (long)matrix.Groups * (matrix.Kind == QuantizationKind.BFloat16 ? QuantizedMatrix.GroupSize : matrix.BytesPerGroup)];

    private static void CheckShape(SafetensorsFile file, SafetensorsEntry entry, long[] expected)
    {
        if (!entry.Shape.SequenceEqual(expected))
        {
            throw new CheckpointException(
                $"{file.Path}: tensor '{entry.Name}' has shape {entry.ShapeText}, but config.json implies [{string.Join(", ", expected)}].");
        }
    }
}
