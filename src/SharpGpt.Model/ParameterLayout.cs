namespace SharpGpt.Model;

/// <summary>What a parameter tensor is, which decides weight decay (matrices only, GPT-3 recipe).</summary>
public enum ParameterKind
{
    Embedding,
    Matrix,
    Bias,
    Norm,
}

/// <summary>A named view (offset + shape) into the one flat parameter buffer.</summary>
public sealed record ParameterTensor(string Name, int[] Shape, long Offset, ParameterKind Kind, int Layer)
{
    public long Length => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>Offsets of one transformer block's tensors. QkvBias is −1 when the family has none.</summary>
public readonly record struct LayerOffsets(
    long Ln1Weight, long Ln1Bias, long QkvWeight, long QkvBias, long AttnProjWeight, long AttnProjBias,
    long Ln2Weight, long Ln2Bias, long FcWeight, long FcBias, long FcProjWeight, long FcProjBias,
    long Start, long End);

/// <summary>
/// Where every parameter lives in the single contiguous float buffer. Tensors are laid out in model order
/// (wte, wpe, block 0 … block L−1, ln_f), each block contiguous, so a block is one slice (ZeRO-3 can
/// gather it) and the optimizer, gradient all-reduce and checkpoint writer each see one flat array.
/// Offsets are padded to 16 floats so every tensor starts on a 64-byte boundary.
/// Internal names follow Hugging Face GPT-2 ("h.3.mlp.fc.weight"); matrices are stored [out, in].
/// </summary>
public sealed class ParameterLayout
{
    /// <summary>Tensor starts are rounded up to this many floats (64 bytes).</summary>
    public const int AlignmentFloats = 16;

    private readonly Dictionary<string, ParameterTensor> _byName;

    public ParameterLayout(GptConfig config)
    {
        Config = config.Validate();
        int c = config.EmbeddingSize, f = config.FeedForwardSize;
        var tensors = new List<ParameterTensor>();
        long offset = 0;

        ParameterTensor Add(string name, ParameterKind kind, int layer, params int[] shape)
        {
            var tensor = new ParameterTensor(name, shape, offset, kind, layer);
            tensors.Add(tensor);
            offset += (tensor.Length + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;
            return tensor;
        }

        Wte = Add("wte", ParameterKind.Embedding, -1, config.VocabSize, c).Offset;
        Wpe = Add("wpe", ParameterKind.Embedding, -1, config.ContextLength, c).Offset;
        var layers = new LayerOffsets[config.LayerCount];
        for (int l = 0; l < config.LayerCount; l++)
        {
            long start = offset;
            string p = $"h.{l}.";
            long ln1w = Add(p + "ln_1.weight", ParameterKind.Norm, l, c).Offset;
            long ln1b = Add(p + "ln_1.bias", ParameterKind.Norm, l, c).Offset;
            long qkvw = Add(p + "attn.qkv.weight", ParameterKind.Matrix, l, 3 * c, c).Offset;
            long qkvb = config.QkvBias ? Add(p + "attn.qkv.bias", ParameterKind.Bias, l, 3 * c).Offset : -1;
            long apw = Add(p + "attn.proj.weight", ParameterKind.Matrix, l, c, c).Offset;
            long apb = Add(p + "attn.proj.bias", ParameterKind.Bias, l, c).Offset;
            long ln2w = Add(p + "ln_2.weight", ParameterKind.Norm, l, c).Offset;
            long ln2b = Add(p + "ln_2.bias", ParameterKind.Norm, l, c).Offset;
            long fcw = Add(p + "mlp.fc.weight", ParameterKind.Matrix, l, f, c).Offset;
            long fcb = Add(p + "mlp.fc.bias", ParameterKind.Bias, l, f).Offset;
            long fpw = Add(p + "mlp.proj.weight", ParameterKind.Matrix, l, c, f).Offset;
            long fpb = Add(p + "mlp.proj.bias", ParameterKind.Bias, l, c).Offset;
            layers[l] = new LayerOffsets(ln1w, ln1b, qkvw, qkvb, apw, apb, ln2w, ln2b, fcw, fcb, fpw, fpb, start, offset);
        }
        LnfWeight = Add("ln_f.weight", ParameterKind.Norm, -1, c).Offset;
        LnfBias = Add("ln_f.bias", ParameterKind.Norm, -1, c).Offset;

        Layers = layers;
        Tensors = tensors;
        // Units: the embeddings, each block, the final LayerNorm; each a contiguous range (ZeRO-3 gathers per unit).
        var units = new List<(long, long)> { (0, layers[0].Start) };
        units.AddRange(layers.Select(l => (l.Start, l.End)));
        units.Add((layers[^1].End, offset));
        Units = units;
        TotalFloats = offset;
        ParameterCount = tensors.Sum(t => t.Length);
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public GptConfig Config { get; }

    public IReadOnlyList<ParameterTensor> Tensors { get; }

    public IReadOnlyList<LayerOffsets> Layers { get; }

    public long Wte { get; }

    public long Wpe { get; }

    public long LnfWeight { get; }

    public long LnfBias { get; }

    /// <summary>Floats in the flat buffer, padding included.</summary>
    public long TotalFloats { get; }

    /// <summary>Trainable parameters (the lm_head is tied to wte and not counted twice).</summary>
    public long ParameterCount { get; }

    /// <summary>
    /// Contiguous ranges that training touches as a whole: unit 0 holds wte and wpe, unit l + 1 is block l, and
    /// the last unit is the final LayerNorm. ZeRO shards and gathers by unit.
    /// </summary>
    public IReadOnlyList<(long Start, long End)> Units { get; }

    /// <summary>The unit of block <paramref name="layer"/>.</summary>
    public static int UnitOfLayer(int layer) => layer + 1;

    /// <summary>Index of the unit containing <paramref name="offset"/>.</summary>
    public int UnitOf(long offset)
    {
        int lo = 0, hi = Units.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (Units[mid].Start <= offset)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return lo;
    }

    public ParameterTensor this[string name] =>
        _byName.TryGetValue(name, out ParameterTensor? tensor)
            ? tensor
            : throw new KeyNotFoundException($"No parameter named '{name}'.");

    public bool TryGet(string name, out ParameterTensor tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Parameter count for a config without building the full layout (same arithmetic).</summary>
    public static long CountParameters(GptConfig config) => new ParameterLayout(config).ParameterCount;
}
