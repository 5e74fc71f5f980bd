using System.Runtime.InteropServices;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Model.Inference;

/// <summary>
/// Runs a GPT incrementally over a KV cache of several sequence slots. One <see cref="Step"/> takes new
/// tokens for any mix of slots (decoding one token, a prefill chunk, a scoring pass), runs them through
/// the model as one batch of rows (so matmuls see every row at once), appends their keys and values to
/// each slot's cache, and computes logits only for the rows that asked. Generation, scoring, the
/// evaluation harness and the server's continuous batching all go through here, so they agree exactly.
/// Every matmul takes the row-invariant path, so a row's logits are the same bits whichever other rows share
/// its step: a request's output never depends on what else is being served.
/// </summary>
public sealed unsafe class InferenceSession : IInferenceSession
{
    private readonly GptModel _model;
    private readonly KvCache _cache;
    private readonly NativeBuffer _work;
    private readonly long _x, _ln, _qkv, _atty, _tmp, _fch, _gathered, _logits;
    private readonly int* _rowTokens;
    private readonly int* _rowPositions;
    private readonly int* _rowSlots;
    private readonly int* _logitRows;
    // Per row: whether it belongs to a decoding chunk (weight-streaming matmul) or a prompt (packed GEMM); per logit
    // row: whether it is streamed (decoding, or the single last row of a chunk) or packed (every row scored).
    private readonly bool[] _rowDecoding;
    private readonly bool[] _logitRowStreamed;
    private readonly CachedAttentionChunk* _attentionChunks;
    private readonly int[] _lengths;
    private readonly int[] _chunkFirstLogitRow;
    private int _logitRowCount;
    private bool _disposed;

    /// <param name="model">Weights (shared, read-only).</param>
    /// <param name="slots">Sequences that can be cached at once.</param>
    /// <param name="maxTokensPerStep">Rows one step may process; longer prompts are prefilled in chunks.</param>
    /// <param name="maxContext">Positions per sequence; defaults to the model's context length.</param>
    public InferenceSession(GptModel model, int slots = 1, int maxTokensPerStep = 256, int? maxContext = null)
    {
        GptConfig config = model.Config;
        int context = maxContext ?? config.ContextLength;
        if (maxTokensPerStep < 1)
        {
            throw new SharpGptException("maxTokensPerStep must be at least 1.");
        }
        _model = model;
        MaxTokensPerStep = maxTokensPerStep;
        _cache = new KvCache(config, slots, context, maxTokensPerStep);
        _lengths = new int[slots];
        _chunkFirstLogitRow = new int[maxTokensPerStep];
        _rowDecoding = new bool[maxTokensPerStep];
        _logitRowStreamed = new bool[maxTokensPerStep];
        int c = config.EmbeddingSize;
        long rows = maxTokensPerStep;
        BufferPlan plan = new();
        _x = plan.Reserve(rows * c);
        _ln = plan.Reserve(rows * c);
        _qkv = plan.Reserve(rows * 3 * c);
        _atty = plan.Reserve(rows * c);
        _tmp = plan.Reserve(rows * c);
        _fch = plan.Reserve(rows * config.FeedForwardSize);
        _gathered = plan.Reserve(rows * c);
        _logits = plan.Reserve(rows * config.VocabSize);
        _work = new NativeBuffer(plan.TotalFloats);
        _rowTokens = (int*)NativeMemory.AllocZeroed((nuint)rows, sizeof(int));
        _rowPositions = (int*)NativeMemory.AllocZeroed((nuint)rows, sizeof(int));
        _rowSlots = (int*)NativeMemory.AllocZeroed((nuint)rows, sizeof(int));
        _logitRows = (int*)NativeMemory.AllocZeroed((nuint)rows, sizeof(int));
        // A step holds at most one chunk per slot, and at least one row per chunk.
        _attentionChunks = (CachedAttentionChunk*)NativeMemory.AllocZeroed((nuint)Math.Min(slots, maxTokensPerStep), (nuint)sizeof(CachedAttentionChunk));
    }

    public GptModel Model => _model;

    public GptConfig Config => _model.Config;

    public int SlotCount => _cache.SlotCount;

    public int MaxContext => _cache.MaxContext;

    public int MaxTokensPerStep { get; }

    /// <summary>Bytes of KV cache plus working buffers.</summary>
    public long ByteLength => _cache.ByteLength + _work.ByteLength;

    public KvCache Cache => _cache;

    /// <summary>Tokens cached in a slot.</summary>
    public int Length(int slot) => _lengths[CheckSlot(slot)];

    /// <summary>Forgets a slot's sequence.</summary>
    public void Reset(int slot) => _lengths[CheckSlot(slot)] = 0;

    /// <summary>
    /// Shortens a slot's sequence to <paramref name="length"/> tokens (to rescore or regenerate from a prefix).
    /// On local layers the ring must still hold the window before that point.
    /// </summary>
    public void Truncate(int slot, int length)
    {
        int current = _lengths[CheckSlot(slot)];
        if (length < 0 || length > current)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"Cannot truncate a sequence of {current} tokens to {length}.");
        }
        for (int l = 0; l < Config.LayerCount; l++)
        {
            int window = Config.WindowOf(l);
            // The next token (position `length`) needs positions from max(0, length − window + 1); the ring
            // still holds positions from current − capacity.
            int firstNeeded = Math.Max(0, length - window + 1);
            if (window > 0 && firstNeeded < current - _cache.Capacities[l])
            {
                throw new InvalidOperationException($"Layer {l}'s ring buffer no longer holds positions before {length}; prefill again instead.");
            }
        }
        _lengths[slot] = length;
    }

    /// <summary>Makes slot <paramref name="to"/> a copy of slot <paramref name="from"/> (shared prompt, several continuations).</summary>
    public void CopySlot(int from, int to)
    {
        _cache.CopySlot(CheckSlot(from), CheckSlot(to), _lengths[from]);
        _lengths[to] = _lengths[from];
    }

    /// <summary>When set, every kernel call's wall time is charged to its <see cref="StepPhase"/>.</summary>
    public StepProfile? Profile { get; set; }

    private void Lap(StepPhase phase) => Profile?.Lap(phase);

    /// <summary>
    /// Appends each chunk's tokens to its slot and runs them through the model in one batch.
    /// Slots must be distinct. Returns the number of logit rows; chunk i's rows start at <see cref="FirstLogitRow"/>(i).
    /// </summary>
    public int Step(ReadOnlySpan<SequenceChunk> chunks)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        GptConfig config = _model.Config;
        int rows = PrepareRows(chunks);
        if (rows == 0)
        {
            return 0;
        }
        ParameterLayout layout = _model.Layout;
        int c = config.EmbeddingSize, f = config.FeedForwardSize;
        float eps = config.LayerNormEpsilon;
        float* x = Work(_x), ln = Work(_ln), qkv = Work(_qkv), atty = Work(_atty), tmp = Work(_tmp), fch = Work(_fch);

        Profile?.Start();
        if (_model.Quantized is { } quantized)
        {
            // A quantized model embeds from its quantized token table (the fp32 one may have been released).
            quantized.Embed(x, _rowTokens, _rowPositions, Param(layout.Wpe), rows);
        }
        else
        {
            Embedding.Forward(x, _rowTokens, _rowPositions, Param(layout.Wte), Param(layout.Wpe), rows, c);
        }
        Lap(StepPhase.Embedding);
        for (int l = 0; l < config.LayerCount; l++)
        {
            LayerOffsets p = layout.Layers[l];
            if (l == 0)
            {
                LayerNorm.Forward(ln, null, null, x, Param(p.Ln1Weight), Param(p.Ln1Bias), rows, c, eps);
            }
            else
            {
                // The previous block's MLP residual, fused with this block's first LayerNorm.
                LayerNorm.ResidualForward(x, ln, null, null, x, tmp, Param(p.Ln1Weight), Param(p.Ln1Bias), rows, c, eps);
            }
            Lap(StepPhase.LayerNorm);
            QuantizedBlock? q = _model.Quantized?.Blocks[l];
            Linear(qkv, ln, q?.Qkv, p.QkvWeight, p.QkvBias, rows, c, 3 * c, _rowDecoding);
            Lap(StepPhase.Linear);
            int capacity = _cache.Capacities[l], chunkCount = 0;
            for (int r = 0; r < rows; r++)
            {
                int slot = _rowSlots[r];
                float* rowQkv = qkv + (long)r * 3 * c;
                _cache.Write(slot, l, _rowPositions[r], rowQkv + c, rowQkv + 2 * c);
                // A step's chunks are runs of rows of distinct slots: a new slot starts a new attention chunk.
                if (r > 0 && slot == _rowSlots[r - 1])
                {
                    _attentionChunks[chunkCount - 1].Count++;
                    continue;
                }
                _attentionChunks[chunkCount++] = new CachedAttentionChunk
                {
                    Query = rowQkv,
                    QueryStride = 3 * c,
                    Output = atty + (long)r * c,
                    OutputStride = c,
                    Keys = _cache.Keys(slot, l),
                    Values = _cache.Values(slot, l),
                    FirstPosition = _rowPositions[r],
                    Count = 1,
                    Capacity = capacity,
                    Decoding = _rowDecoding[r],
                };
            }
            CachedAttention.Forward(_attentionChunks, chunkCount,
                new AttentionShape(config.HeadCount, config.HeadDim, config.WindowOf(l), config.AttentionScaleOf(l)));
            Lap(StepPhase.Attention);
            Linear(tmp, atty, q?.AttentionOutput, p.AttnProjWeight, p.AttnProjBias, rows, c, c, _rowDecoding);
            Lap(StepPhase.Linear);
            LayerNorm.ResidualForward(x, ln, null, null, x, tmp, Param(p.Ln2Weight), Param(p.Ln2Bias), rows, c, eps);
            Lap(StepPhase.LayerNorm);
            Linear(fch, ln, q?.MlpUp, p.FcWeight, -1, rows, c, f, _rowDecoding);
            Lap(StepPhase.Linear);
            Gelu.ForwardWithBias(fch, fch, Param(p.FcBias), rows, f);
            Lap(StepPhase.Gelu);
            Linear(tmp, fch, q?.MlpDown, p.FcProjWeight, p.FcProjBias, rows, f, c, _rowDecoding);
            Lap(StepPhase.Linear);
        }
        Residual.Forward(x, x, tmp, (long)rows * c);
        Lap(StepPhase.LayerNorm);

        if (_logitRowCount > 0)
        {
            float* gathered = Work(_gathered);
            for (int j = 0; j < _logitRowCount; j++)
            {
                Buffer.MemoryCopy(x + (long)_logitRows[j] * c, gathered + (long)j * c, c * sizeof(float), c * sizeof(float));
            }
            LayerNorm.Forward(ln, null, null, gathered, Param(layout.LnfWeight), Param(layout.LnfBias), _logitRowCount, c, eps);
            Linear(Work(_logits), ln, _model.Quantized?.Head, layout.Wte, -1, _logitRowCount, c, config.VocabSize, _logitRowStreamed);
            Lap(StepPhase.Head);
        }
        foreach (SequenceChunk chunk in chunks)
        {
            _lengths[chunk.Slot] += chunk.Tokens.Length;
        }
        return _logitRowCount;
    }

    /// <summary>
    /// x·Wᵀ + b, one call per run of same-kind rows: decoding rows on the weight-streaming row-invariant kernels
    /// (fp32 RowInvariant GEMM, or the integer <see cref="QuantizedMatMul"/>), prompt rows on the packed GEMM (fp32,
    /// or with a quantized matrix dequantized panel by panel as it is packed). Each path is row-invariant, so the
    /// kind of a row, not its neighbours, decides its bits.
    /// </summary>
    /// <param name="streamed">Per row: true for the weight-streaming path, false for the packed GEMM.</param>
    private void Linear(float* output, float* input, QuantizedMatrix? quantized, long weight, long bias, int rows, int inDim, int outDim, bool[] streamed)
    {
        float* b = bias >= 0 ? Param(bias) : null;
        for (int start = 0; start < rows;)
        {
            int end = start + 1;
            while (end < rows && streamed[end] == streamed[start])
            {
                end++;
            }
            float* o = output + (long)start * outDim, x = input + (long)start * inDim;
            if (quantized == null)
            {
                MatMul.Forward(o, x, Param(weight), b, end - start, inDim, outDim, streamed[start] ? GemmPath.RowInvariant : GemmPath.Packed);
            }
            else if (streamed[start])
            {
                QuantizedMatMul.Forward(o, x, quantized, b, end - start);
            }
            else
            {
                DequantizingMatMul.Forward(o, x, quantized, b, end - start);
            }
            start = end;
        }
    }

    /// <summary>First logit row of chunk <paramref name="chunkIndex"/> in the last step (−1 if it asked for none).</summary>
    public int FirstLogitRow(int chunkIndex) => _chunkFirstLogitRow[chunkIndex];

    /// <summary>Logits (V) of a row of the last step; valid until the next step.</summary>
    public ReadOnlySpan<float> Logits(int logitRow)
    {
        if ((uint)logitRow >= (uint)_logitRowCount)
        {
            throw new ArgumentOutOfRangeException(nameof(logitRow), $"The last step produced {_logitRowCount} logit rows.");
        }
        int v = Config.VocabSize;
        return new ReadOnlySpan<float>(Work(_logits) + (long)logitRow * v, v);
    }

    private int PrepareRows(ReadOnlySpan<SequenceChunk> chunks)
    {
        int vocab = Config.VocabSize;
        int rows = 0;
        _logitRowCount = 0;
        for (int i = 0; i < chunks.Length; i++)
        {
            SequenceChunk chunk = chunks[i];
            int slot = CheckSlot(chunk.Slot);
            for (int j = 0; j < i; j++)
            {
                if (chunks[j].Slot == slot)
                {
                    throw new ArgumentException($"Slot {slot} appears twice in one step.", nameof(chunks));
                }
            }
            int length = chunk.Tokens.Length;
            if (rows + length > MaxTokensPerStep)
            {
                throw new ArgumentException($"A step holds at most {MaxTokensPerStep} tokens.", nameof(chunks));
            }
            if (_lengths[slot] + length > MaxContext)
            {
                throw new SharpGptException($"The sequence would grow to {_lengths[slot] + length} tokens, beyond the context of {MaxContext}.");
            }
            ReadOnlySpan<int> tokens = chunk.Tokens.Span;
            _chunkFirstLogitRow[i] = chunk.Logits == LogitsRequest.None || length == 0 ? -1 : _logitRowCount;
            for (int t = 0; t < length; t++)
            {
                if ((uint)tokens[t] >= (uint)vocab)
                {
                    throw new SharpGptException($"Token id {tokens[t]} is outside the model's vocabulary of {vocab}.");
                }
                _rowTokens[rows] = tokens[t];
                _rowPositions[rows] = _lengths[slot] + t;
                _rowSlots[rows] = slot;
                _rowDecoding[rows] = chunk.Decoding;
                if (chunk.Logits == LogitsRequest.All || (chunk.Logits == LogitsRequest.Last && t == length - 1))
                {
                    // One logit row per chunk (Last) streams the 50K-row LM head like a decoding row; packing the
                    // head for a single row would cost more than the product. Scoring (All) uses the packed GEMM.
                    _logitRowStreamed[_logitRowCount] = chunk.Decoding || chunk.Logits == LogitsRequest.Last;
                    _logitRows[_logitRowCount++] = rows;
                }
                rows++;
            }
        }
        return rows;
    }

    private int CheckSlot(int slot) =>
        (uint)slot < (uint)_cache.SlotCount ? slot : throw new ArgumentOutOfRangeException(nameof(slot), $"Slot {slot} is outside 0..{_cache.SlotCount - 1}.");

    private float* Work(long offset) => _work.Pointer + offset;

    private float* Param(long offset) => _model.Parameters.Pointer + offset;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _cache.Dispose();
        _work.Dispose();
        NativeMemory.Free(_rowTokens);
        NativeMemory.Free(_rowPositions);
        NativeMemory.Free(_rowSlots);
        NativeMemory.Free(_logitRows);
        NativeMemory.Free(_attentionChunks);
    }
}
