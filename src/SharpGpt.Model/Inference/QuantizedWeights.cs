using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Model.Inference;

/// <summary>The four matrices of one block, quantized.</summary>
public sealed record QuantizedBlock(QuantizedMatrix Qkv, QuantizedMatrix AttentionOutput, QuantizedMatrix MlpUp, QuantizedMatrix MlpDown)
{
    public IEnumerable<QuantizedMatrix> Matrices => [Qkv, AttentionOutput, MlpUp, MlpDown];
}

/// <summary>
/// Quantized copies of a model's matrices for inference (quantized when the model is loaded): every block's
/// q/k/v, attention output and MLP matrices, and the tied output head. Embeddings, LayerNorms and biases stay
/// fp32. Decoding then streams about a quarter (int8) or a seventh (int4) of the fp32 bytes per token.
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

    /// <summary>The output head (the tied token embedding) [V, C].</summary>
    public QuantizedMatrix Head { get; }

    public IReadOnlyList<QuantizedBlock> Blocks { get; }

    /// <summary>Every quantized matrix: the head, then each block's four.</summary>
    public IEnumerable<QuantizedMatrix> Matrices => Blocks.SelectMany(b => b.Matrices).Prepend(Head);

    /// <summary>Bytes of all quantized matrices (what a decode step streams for matmuls).</summary>
    public long ByteLength => Matrices.Sum(m => m.ByteLength);

    /// <summary>
    /// Quantizes every block matrix and the head (the token table). With <paramref name="releaseFloatBlocks"/>, each
    /// block's fp32 matrices go back to the operating system as soon as that block is quantized, so the peak stays
    /// near the fp32 model's size instead of fp32 + quantized.
    /// </summary>
    public static QuantizedWeights Create(GptModel model, QuantizationKind kind, bool releaseFloatBlocks = false)
    {
        GptConfig config = model.Config;
        int c = config.EmbeddingSize, f = config.FeedForwardSize;
        float* p = model.Parameters.Pointer;
        var blocks = new QuantizedBlock[config.LayerCount];
        for (int l = 0; l < config.LayerCount; l++)
        {
            LayerOffsets o = model.Layout.Layers[l];
            blocks[l] = new QuantizedBlock(
                QuantizedMatrix.Quantize(p + o.QkvWeight, 3 * c, c, kind),
                QuantizedMatrix.Quantize(p + o.AttnProjWeight, c, c, kind),
                QuantizedMatrix.Quantize(p + o.FcWeight, f, c, kind),
                QuantizedMatrix.Quantize(p + o.FcProjWeight, c, f, kind));
            if (releaseFloatBlocks)
            {
                long[] offsets = [o.QkvWeight, o.AttnProjWeight, o.FcWeight, o.FcProjWeight];
                foreach ((long offset, QuantizedMatrix matrix) in offsets.Zip(blocks[l].Matrices))
                {
                    model.Parameters.ReleaseRange(offset, (long)matrix.Rows * matrix.Columns);
                }
            }
        }
        return new QuantizedWeights(kind, QuantizedMatrix.Quantize(p + model.Layout.Wte, config.VocabSize, c, kind), blocks);
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
