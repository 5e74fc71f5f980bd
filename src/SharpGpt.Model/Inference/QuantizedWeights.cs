using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Model.Inference;

/// <summary>The four matrices of one block, quantized.</summary>
public sealed record QuantizedBlock(QuantizedMatrix Qkv, QuantizedMatrix AttentionOutput, QuantizedMatrix MlpUp, QuantizedMatrix MlpDown)
{
    public IEnumerable<QuantizedMatrix> Matrices => [Qkv, AttentionOutput, MlpUp, MlpDown];
}

/// <summary>
/// Quantized copies of a model's matrices for inference (quantized when the model is loaded, or read from a
/// `sharpgpt quantize` folder): every block's q/k/v, attention output and MLP matrices, and the token table, which
/// is both the tied output head and, dequantized one row per token, the input embedding. Position embeddings,
/// LayerNorms and biases stay fp32. Decoding then streams about a quarter (int8) or a seventh (int4) of the fp32
/// bytes per token.
/// </summary>
public sealed unsafe class QuantizedWeights : IDisposable
{
    private QuantizedWeights(QuantizationKind kind, QuantizedMatrix head, QuantizedBlock[] blocks)
    {
        Kind = kind;
        Head = head;
        Blocks = blocks;
    }

    public QuantizationKind Kind { get; }

    /// <summary>The token table [V, C]: the output head, and the rows the embedding dequantizes.</summary>
    public QuantizedMatrix Head { get; }

    public IReadOnlyList<QuantizedBlock> Blocks { get; }

    /// <summary>Every quantized matrix: the head, then each block's four.</summary>
    public IEnumerable<QuantizedMatrix> Matrices => Blocks.SelectMany(b => b.Matrices).Prepend(Head);

    /// <summary>Bytes of all quantized matrices (what a decode step streams for matmuls).</summary>
    public long ByteLength => Matrices.Sum(m => m.ByteLength);

    /// <summary>
    /// The fp32 tensors that get quantized, in the order <see cref="Matrices"/> lists them: the token table (the
    /// tied head), then each block's qkv, attention output, MLP up and MLP down matrices (all [out, in]).
    /// </summary>
    public static IReadOnlyList<ParameterTensor> SourceTensors(ParameterLayout layout) => layout.Tensors.Where(IsSource).ToList();

    /// <summary>Embeds rows: output[r] = dequantized token row tokens[r] + wpe[positions[r]] ([rows, C]).</summary>
    public void Embed(float* output, int* tokens, int* positions, float* wpe, int rows)
    {
        int c = Head.Columns;
        for (int r = 0; r < rows; r++)
        {
            float* row = output + (long)r * c;
            Head.DequantizeRow(tokens[r], row);
            var values = new Span<float>(row, c);
            System.Numerics.Tensors.TensorPrimitives.Add(values, new ReadOnlySpan<float>(wpe + (long)positions[r] * c, c), values);
        }
    }

    /// <summary>Assembles quantized matrices given in <see cref="SourceTensors"/> order (a checkpoint's).</summary>
    public static QuantizedWeights FromMatrices(QuantizationKind kind, IReadOnlyList<QuantizedMatrix> matrices)
    {
        if (matrices.Count == 0 || (matrices.Count - 1) % 4 != 0 || matrices.Any(m => m.Kind != kind))
        {
            throw new ArgumentException($"Expected the head and four {kind} matrices per block, got {matrices.Count}.", nameof(matrices));
        }
        QuantizedBlock[] blocks = Enumerable.Range(0, (matrices.Count - 1) / 4)
            .Select(l => new QuantizedBlock(matrices[1 + 4 * l], matrices[2 + 4 * l], matrices[3 + 4 * l], matrices[4 + 4 * l]))
            .ToArray();
        return new QuantizedWeights(kind, matrices[0], blocks);
    }

    /// <summary>
    /// Whether <paramref name="tensor"/> is one of <see cref="SourceTensors"/> (stored quantized, not fp32). The layout
    /// puts wte first and the matrices in block order, which is the order <see cref="FromMatrices"/> expects.
    /// </summary>
    public static bool IsSource(ParameterTensor tensor) => tensor.Kind == ParameterKind.Matrix || tensor.Name == "wte";

    /// <summary>
    /// Quantizes every block matrix and the token table. With <paramref name="releaseFloat"/>, each one's fp32 copy
    /// goes back to the operating system as soon as it is quantized, so the peak stays near the fp32 model's size
    /// instead of fp32 + quantized.
    /// </summary>
    public static QuantizedWeights Create(GptModel model, QuantizationKind kind, bool releaseFloat = false)
    {
        var matrices = new List<QuantizedMatrix>();
        foreach (ParameterTensor tensor in SourceTensors(model.Layout))
        {
            matrices.Add(QuantizedMatrix.Quantize(model.Pointer(tensor.Offset), tensor.Shape[0], tensor.Shape[1], kind));
            if (releaseFloat)
            {
                model.Parameters.ReleaseRange(tensor.Offset, tensor.Length);
            }
        }
        return FromMatrices(kind, matrices);
    }

    public void Dispose()
    {
        Head.Dispose();
        foreach (QuantizedBlock block in Blocks)
        {
            block.Qkv.Dispose();
            block.AttentionOutput.Dispose();
            block.MlpUp.Dispose();
            block.MlpDown.Dispose();
        }
    }
}
