using System.Runtime.InteropServices;
using SharpGpt.Model.Lora;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Model.Training;

/// <summary>
/// Forward pass with saved activations, mean cross-entropy loss, and backward pass into a gradient buffer
/// laid out like the parameters. Buffers are allocated once for (maxBatch, maxTime); each call passes its
/// actual (B, T), so nothing is allocated per step. The forward reads like the paper: embed, then per block
/// LN → attention → residual → LN → MLP → residual, then the final LN and the tied lm_head.
/// Memory stays linear in T: attention keeps only each row's log-sum-exp (<see cref="FlashAttention"/>), and the
/// lm_head, softmax and cross-entropy run over row chunks, so the (B·T, V) logits never exist at once.
/// </summary>
public sealed unsafe class TrainingGraph : ITrainingGraph
{
    private readonly GptModel _model;
    private readonly NativeBuffer _activations;
    private readonly int* _tokens;
    private readonly int* _targets;
    private readonly int* _positions;
    private int _batch, _time, _counted;

    // LoRA: the adapter, its gradients, and per (layer, target) the saved scale·(x·Aᵀ) rows (B·T × rank).
    private LoraAdapter? _lora;
    private NativeBuffer? _loraSaved;
    private long[,]? _loraSavedOffsets;
    private NativeBuffer? _loraScratch;

    // Activation offsets (all rows B·T contiguous).
    private readonly long _encoded, _lnf, _lnfMean, _lnfRstd, _logits, _losses, _projOut;
    private readonly long[] _ln1, _ln1Mean, _ln1Rstd, _qkv, _atty, _attLse, _res2, _ln2, _ln2Mean, _ln2Rstd, _fch, _fchGelu, _res3;
    private readonly int _headChunkRows;
    private NativeBuffer? _fullLogits;
    // Backward scratch.
    private readonly long _dRes, _dTmp, _dQkv, _dFch, _dFchGelu;

    /// <param name="storage">Where parameters and gradients live; null keeps them in full buffers (<see cref="Gradients"/>).</param>
    public TrainingGraph(GptModel model, int maxBatch, int maxTime, IParameterStorage? storage = null)
    {
        model.ThrowIfFloatMatricesReleased("train");
        GptConfig config = model.Config;
        if (maxBatch < 1 || maxTime < 1 || maxTime > config.ContextLength)
        {
            throw new SharpGptException($"Batch {maxBatch}×{maxTime} is invalid for a context of {config.ContextLength}.");
        }
        _model = model;
        MaxBatch = maxBatch;
        MaxTime = maxTime;
        long bt = (long)maxBatch * maxTime;
        int c = config.EmbeddingSize, f = config.FeedForwardSize, layers = config.LayerCount;
        BufferPlan plan = new();
        _encoded = plan.Reserve(bt * c);
        _ln1 = plan.Reserve(layers, bt * c);
        _ln1Mean = plan.Reserve(layers, bt);
        _ln1Rstd = plan.Reserve(layers, bt);
        _qkv = plan.Reserve(layers, bt * 3 * c);
        _atty = plan.Reserve(layers, bt * c);
        _attLse = plan.Reserve(layers, (long)maxBatch * config.HeadCount * maxTime);
        _res2 = plan.Reserve(layers, bt * c);
        _ln2 = plan.Reserve(layers, bt * c);
        _ln2Mean = plan.Reserve(layers, bt);
        _ln2Rstd = plan.Reserve(layers, bt);
        _fch = plan.Reserve(layers, bt * f);
        _fchGelu = plan.Reserve(layers, bt * f);
        _res3 = plan.Reserve(layers, bt * c);
        _projOut = plan.Reserve(bt * c);
        _lnf = plan.Reserve(bt * c);
        _lnfMean = plan.Reserve(bt);
        _lnfRstd = plan.Reserve(bt);
        _headChunkRows = HeadChunkRowsFor(bt);
        _logits = plan.Reserve((long)_headChunkRows * config.VocabSize);
        _losses = plan.Reserve(bt);
        _dRes = plan.Reserve(bt * c);
        _dTmp = plan.Reserve(bt * c);
        _dQkv = plan.Reserve(bt * 3 * c);
        _dFch = plan.Reserve(bt * f);
        _dFchGelu = plan.Reserve(bt * f);
        _activations = new NativeBuffer(plan.TotalFloats);
        if (storage == null)
        {
            _gradients = new NativeBuffer(model.Layout.TotalFloats);
            storage = new FullParameterStorage(model, _gradients);
        }
        _storage = storage;
        int units = model.Layout.Units.Count;
        _paramBases = new nint[units];
        _gradBases = new nint[units];
        _tokens = (int*)NativeMemory.AllocZeroed((nuint)bt, sizeof(int));
        _targets = (int*)NativeMemory.AllocZeroed((nuint)bt, sizeof(int));
        _positions = (int*)NativeMemory.AllocZeroed((nuint)bt, sizeof(int));
    }

    public GptModel Model => _model;

    public int MaxBatch { get; }

    public int MaxTime { get; }

    private readonly NativeBuffer? _gradients;
    private readonly IParameterStorage _storage;
    private readonly nint[] _paramBases;
    private readonly nint[] _gradBases;

    /// <summary>
    /// ∂loss/∂parameters, accumulated over Backward calls until <see cref="ZeroGradients"/> (full storage only;
    /// with a custom <see cref="IParameterStorage"/> the gradients live there).
    /// </summary>
    public NativeBuffer Gradients => _gradients ?? throw new InvalidOperationException("The gradients live in the custom parameter storage.");

    /// <summary>
    /// Rows of logits the lm_head materialises at once. 256 rows keep the head's GEMMs at full speed (M ≥ 256
    /// packs well) while the chunk stays 51 MB for GPT-2's vocabulary instead of 1.6 GB for a 16×512 batch.
    /// </summary>
    public const int HeadChunkRows = 256;

    private static int HeadChunkRowsFor(long rows) => (int)Math.Min(rows, HeadChunkRows);

    /// <summary>Activation bytes a graph of this shape allocates (exact, without allocating): for planning.</summary>
    public static long ActivationBytesFor(GptConfig config, int maxBatch, int maxTime)
    {
        long bt = (long)maxBatch * maxTime;
        long c = config.EmbeddingSize, f = config.FeedForwardSize, layers = config.LayerCount;
        long perLayer = bt * c * 5 + bt * 4 + bt * 3 * c + (long)maxBatch * config.HeadCount * maxTime + bt * f * 2;
        long floats = bt * c * (1 + 2 + 2) + bt * 2 + HeadChunkRowsFor(bt) * (long)config.VocabSize + bt + bt * 3 * c + bt * f * 2 + layers * perLayer;
        return floats * sizeof(float);
    }

    /// <summary>Bytes of activation and scratch memory.</summary>
    public long ActivationBytes => _activations.ByteLength;

    /// <summary>Positions with a target (not ignored) in the last forward pass.</summary>
    public int CountedTargets => _counted;

    /// <summary>The attached LoRA adapter, if any; while attached the base weights are frozen.</summary>
    public LoraAdapter? Lora => _lora;

    /// <summary>∂loss/∂adapter, laid out like the adapter's parameters (only with an adapter attached).</summary>
    public NativeBuffer? LoraGradients { get; private set; }

    /// <summary>
    /// Trains <paramref name="adapter"/> instead of the model: every adapted linear layer computes
    /// W·x + b + scale·B·(A·x), and backward fills <see cref="LoraGradients"/> while the base weights get none.
    /// </summary>
    public void AttachLora(LoraAdapter adapter)
    {
        adapter.CheckCompatible(_model.Config);
        _lora = adapter;
        LoraGradients?.Dispose();
        _loraSaved?.Dispose();
        _loraScratch?.Dispose();
        LoraGradients = new NativeBuffer(adapter.TotalFloats);
        long rows = (long)MaxBatch * MaxTime, rank = adapter.Settings.Rank;
        _loraSavedOffsets = new long[_model.Config.LayerCount, 4];
        BufferPlan plan = new();
        for (int l = 0; l < _model.Config.LayerCount; l++)
        {
            for (int t = 0; t < 4; t++)
            {
                _loraSavedOffsets[l, t] = adapter.Slot(l, (LoraTarget)t) is null ? -1 : plan.Reserve(rows * rank);
            }
        }
        _loraSaved = new NativeBuffer(Math.Max(1, plan.TotalFloats));
        _loraScratch = new NativeBuffer(rows * rank);
    }

    private bool BaseFrozen => _lora != null;

    /// <summary>When set, every kernel call's wall time is charged to its <see cref="StepPhase"/>.</summary>
    public StepProfile? Profile { get; set; }

    private void Lap(StepPhase phase) => Profile?.Lap(phase);

    public void ZeroGradients()
    {
        _gradients?.Clear();
        LoraGradients?.Clear();
    }

    /// <summary>
    /// Runs the forward pass on tokens (B·T, row-major) and returns the mean cross-entropy over the targets
    /// that are not <see cref="SoftmaxCrossEntropy.IgnoreTarget"/>. Evaluation only: nothing is kept for a backward pass.
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int time)
    {
        PrepareWithTargets(tokens, targets, batch, time);
        RunForward();
        return RunHead(backwardWeight: null);
    }

    /// <summary>
    /// One training micro-step: the forward pass, then ∂loss/∂parameters added to the gradients (see
    /// <see cref="Gradients"/>). Returns the mean loss like <see cref="Forward"/>. Each counted position's loss is
    /// weighted by <paramref name="lossWeight"/>, which defaults to 1/CountedTargets (the gradient of the mean);
    /// gradient accumulation and data parallelism pass 1/(targets in the whole global batch) instead.
    /// The softmax/cross-entropy backward and the lm_head backward run inside the forward's row chunks.
    /// </summary>
    public float ForwardBackward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int time, float? lossWeight = null)
    {
        PrepareWithTargets(tokens, targets, batch, time);
        RunForward();
        float loss = RunHead(lossWeight ?? (_counted == 0 ? 0f : 1f / _counted));
        RunBackward();
        return loss;
    }

    /// <summary>Forward pass that leaves raw logits (B·T, V) readable through <see cref="Logits"/> (allocated on first use).</summary>
    public void ForwardLogits(ReadOnlySpan<int> tokens, int batch, int time)
    {
        Prepare(tokens, batch, time);
        RunForward();
        int v = _model.Config.VocabSize;
        _fullLogits ??= new NativeBuffer((long)MaxBatch * MaxTime * v);
        Acquire(0);
        MatMul.Forward(_fullLogits.Pointer, Activation(_lnf), Param(_model.Layout.Wte), null, batch * time, _model.Config.EmbeddingSize, v);
        Release(0);
    }

    /// <summary>Logits of row (b·T + t) after <see cref="ForwardLogits"/>.</summary>
    public ReadOnlySpan<float> Logits(int row)
    {
        if (_fullLogits == null)
        {
            throw new InvalidOperationException("Logits are only kept by ForwardLogits.");
        }
        int v = _model.Config.VocabSize;
        return new ReadOnlySpan<float>(_fullLogits.Pointer + (long)row * v, v);
    }

    /// <summary>Per-position losses of the last <see cref="Forward"/> (0 where the target is ignored).</summary>
    public ReadOnlySpan<float> Losses => new(Activation(_losses), _batch * _time);

    /// <summary>
    /// lm_head (tied to wte), softmax and cross-entropy over chunks of rows; with a weight, also dlogits and the
    /// head backward: ∂L/∂lnf into dTmp (B·T, C) and ∂L/∂wte accumulated. Unit 0's gradients stay acquired for
    /// the embedding backward at the end of <see cref="RunBackward"/>. Returns the mean loss.
    /// </summary>
    private float RunHead(float? backwardWeight)
    {
        GptConfig config = _model.Config;
        long wte = _model.Layout.Wte;
        int bt = _batch * _time, c = config.EmbeddingSize, v = config.VocabSize;
        float* chunk = Activation(_logits), losses = Activation(_losses), lnf = Activation(_lnf), dLnf = Activation(_dTmp);
        Profile?.Start();
        Acquire(0);
        if (backwardWeight != null)
        {
            AcquireGradients(0);
        }
        for (int first = 0; first < bt; first += _headChunkRows)
        {
            int rows = Math.Min(_headChunkRows, bt - first);
            float* input = lnf + (long)first * c;
            MatMul.Forward(chunk, input, Param(wte), null, rows, c, v);
            if (backwardWeight is float weight)
            {
                SoftmaxCrossEntropy.ForwardBackward(chunk, losses + first, chunk, _targets + first, weight, rows, v);
                MatMul.Backward(dLnf + (long)first * c, BaseGrad(wte), null, chunk, input, Param(wte), rows, c, v);
            }
            else
            {
                SoftmaxCrossEntropy.Forward(chunk, losses + first, chunk, _targets + first, rows, v);
            }
        }
        Release(0);
        Lap(StepPhase.Head);
        double sum = 0;
        for (int i = 0; i < bt; i++)
        {
            sum += losses[i];
        }
        return _counted == 0 ? 0f : (float)(sum / _counted);
    }

    /// <summary>Backward from ∂L/∂lnf (left in dTmp by <see cref="RunHead"/>) through the blocks to the embeddings.</summary>
    private void RunBackward()
    {
        GptConfig config = _model.Config;
        ParameterLayout layout = _model.Layout;
        int b = _batch, t = _time, bt = b * t, c = config.EmbeddingSize, f = config.FeedForwardSize;
        float* dRes = Activation(_dRes), dTmp = Activation(_dTmp), dQkv = Activation(_dQkv);
        float* dFch = Activation(_dFch), dFchGelu = Activation(_dFchGelu);

        int lastUnit = layout.Units.Count - 1;
        float* lastResidual = Activation(_res3[config.LayerCount - 1]);
        Acquire(lastUnit);
        AcquireGradients(lastUnit);
        Profile?.Start();
        LayerNorm.Backward(dRes, BaseGrad(layout.LnfWeight), BaseGrad(layout.LnfBias), dTmp, lastResidual, Param(layout.LnfWeight),
            Activation(_lnfMean), Activation(_lnfRstd), bt, c);
        Lap(StepPhase.LayerNormBackward);
        GradientsReady(lastUnit);
        Release(lastUnit);

        for (int l = config.LayerCount - 1; l >= 0; l--)
        {
            LayerOffsets p = layout.Layers[l];
            int unit = ParameterLayout.UnitOfLayer(l);
            Acquire(unit);
            AcquireGradients(unit);
            float* residualIn = l == 0 ? Activation(_encoded) : Activation(_res3[l - 1]);

            // MLP: res3 = res2 + proj(gelu(fc(ln2(res2)))); dRes is ∂L/∂res3.
            Profile?.Start();
            LinearBackward(l, LoraTarget.MlpDown, dFchGelu, p.FcProjWeight, p.FcProjBias, dRes, Activation(_fchGelu[l]), bt, f, c);
            Lap(StepPhase.LinearBackward);
            Gelu.Backward(dFch, Activation(_fch[l]), dFchGelu, (long)bt * f);
            Lap(StepPhase.GeluBackward);
            LinearBackward(l, LoraTarget.MlpUp, dTmp, p.FcWeight, p.FcBias, dFch, Activation(_ln2[l]), bt, c, f);
            Lap(StepPhase.LinearBackward);
            LayerNorm.Backward(dRes, BaseGrad(p.Ln2Weight), BaseGrad(p.Ln2Bias), dTmp, Activation(_res2[l]), Param(p.Ln2Weight),
                Activation(_ln2Mean[l]), Activation(_ln2Rstd[l]), bt, c, accumulate: true);
            Lap(StepPhase.LayerNormBackward);

            // Attention: res2 = resIn + proj(attn(qkv(ln1(resIn)))); dRes is now ∂L/∂res2.
            LinearBackward(l, LoraTarget.AttentionOutput, dTmp, p.AttnProjWeight, p.AttnProjBias, dRes, Activation(_atty[l]), bt, c, c);
            Lap(StepPhase.LinearBackward);
            FlashAttention.Backward(dQkv, dTmp, Activation(_qkv[l]), Activation(_atty[l]), Activation(_attLse[l]), b, t, ShapeOf(l));
            Lap(StepPhase.AttentionBackward);
            LinearBackward(l, LoraTarget.Qkv, dTmp, p.QkvWeight, p.QkvBias, dQkv, Activation(_ln1[l]), bt, c, 3 * c);
            Lap(StepPhase.LinearBackward);
            LayerNorm.Backward(dRes, BaseGrad(p.Ln1Weight), BaseGrad(p.Ln1Bias), dTmp, residualIn, Param(p.Ln1Weight),
                Activation(_ln1Mean[l]), Activation(_ln1Rstd[l]), bt, c, accumulate: true);
            Lap(StepPhase.LayerNormBackward);
            GradientsReady(unit);
            Release(unit);
        }
        if (!BaseFrozen)
        {
            Profile?.Start();
            Embedding.Backward(Grad(layout.Wte), Grad(layout.Wpe), dRes, _tokens, _positions, bt, c);
            Lap(StepPhase.EmbeddingBackward);
        }
        GradientsReady(0);
    }

    private void PrepareWithTargets(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int time)
    {
        Prepare(tokens, batch, time);
        if (targets.Length != batch * time)
        {
            throw new ArgumentException($"Expected {batch * time} targets, got {targets.Length}.", nameof(targets));
        }
        int vocab = _model.Config.VocabSize;
        _counted = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            int t = targets[i];
            if (t < SoftmaxCrossEntropy.IgnoreTarget || t >= vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target {t} at {i} is outside the vocabulary of {vocab}.");
            }
            _targets[i] = t;
            _counted += t >= 0 ? 1 : 0;
        }
    }

    private void Prepare(ReadOnlySpan<int> tokens, int batch, int time)
    {
        if (batch < 1 || batch > MaxBatch || time < 1 || time > MaxTime)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"Batch {batch}×{time} exceeds the allocated {MaxBatch}×{MaxTime}.");
        }
        if (tokens.Length != batch * time)
        {
            throw new ArgumentException($"Expected {batch * time} tokens, got {tokens.Length}.", nameof(tokens));
        }
        int vocab = _model.Config.VocabSize;
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {tokens[i]} at {i} is outside the vocabulary of {vocab}.");
            }
            _tokens[i] = tokens[i];
            _positions[i] = i % time;
        }
        _batch = batch;
        _time = time;
    }

    private void RunForward()
    {
        GptConfig config = _model.Config;
        ParameterLayout layout = _model.Layout;
        int b = _batch, t = _time, bt = b * t, c = config.EmbeddingSize, f = config.FeedForwardSize;
        float eps = config.LayerNormEpsilon;
        float* projOut = Activation(_projOut);

        int lastUnit = layout.Units.Count - 1;
        Acquire(0);
        Profile?.Start();
        Embedding.Forward(Activation(_encoded), _tokens, _positions, Param(layout.Wte), Param(layout.Wpe), bt, c);
        Lap(StepPhase.Embedding);
        Release(0);
        for (int l = 0; l < config.LayerCount; l++)
        {
            LayerOffsets p = layout.Layers[l];
            Acquire(ParameterLayout.UnitOfLayer(l));
            float* residualIn = l == 0 ? Activation(_encoded) : Activation(_res3[l - 1]);
            float* ln1 = Activation(_ln1[l]), qkv = Activation(_qkv[l]), atty = Activation(_atty[l]);
            float* res2 = Activation(_res2[l]), ln2 = Activation(_ln2[l]), fch = Activation(_fch[l]), fchGelu = Activation(_fchGelu[l]);

            Profile?.Start();
            if (l == 0)
            {
                LayerNorm.Forward(ln1, Activation(_ln1Mean[l]), Activation(_ln1Rstd[l]), residualIn, Param(p.Ln1Weight), Param(p.Ln1Bias), bt, c, eps);
            }
            else
            {
                // res3[l−1] = res2[l−1] + mlp(l−1), fused with this block's first LayerNorm.
                LayerNorm.ResidualForward(residualIn, ln1, Activation(_ln1Mean[l]), Activation(_ln1Rstd[l]), Activation(_res2[l - 1]), projOut,
                    Param(p.Ln1Weight), Param(p.Ln1Bias), bt, c, eps);
            }
            Lap(StepPhase.LayerNorm);
            LinearForward(l, LoraTarget.Qkv, qkv, ln1, Param(p.QkvWeight), p.QkvBias >= 0 ? Param(p.QkvBias) : null, bt, c, 3 * c);
            Lap(StepPhase.Linear);
            FlashAttention.Forward(atty, Activation(_attLse[l]), qkv, b, t, ShapeOf(l));
            Lap(StepPhase.Attention);
            LinearForward(l, LoraTarget.AttentionOutput, projOut, atty, Param(p.AttnProjWeight), Param(p.AttnProjBias), bt, c, c);
            Lap(StepPhase.Linear);
            LayerNorm.ResidualForward(res2, ln2, Activation(_ln2Mean[l]), Activation(_ln2Rstd[l]), residualIn, projOut,
                Param(p.Ln2Weight), Param(p.Ln2Bias), bt, c, eps);
            Lap(StepPhase.LayerNorm);
            // The fc bias is added by the fused GELU, which keeps the biased pre-activation for backward.
            LinearForward(l, LoraTarget.MlpUp, fch, ln2, Param(p.FcWeight), null, bt, c, f);
            Lap(StepPhase.Linear);
            Gelu.ForwardWithBias(fchGelu, fch, Param(p.FcBias), bt, f);
            Lap(StepPhase.Gelu);
            LinearForward(l, LoraTarget.MlpDown, projOut, fchGelu, Param(p.FcProjWeight), Param(p.FcProjBias), bt, f, c);
            Lap(StepPhase.Linear);
            Release(ParameterLayout.UnitOfLayer(l));
        }
        float* lnf = Activation(_lnf);
        Acquire(lastUnit);
        Profile?.Start();
        int last = config.LayerCount - 1;
        LayerNorm.ResidualForward(Activation(_res3[last]), lnf, Activation(_lnfMean), Activation(_lnfRstd), Activation(_res2[last]), projOut,
            Param(layout.LnfWeight), Param(layout.LnfBias), bt, c, eps);
        Lap(StepPhase.LayerNorm);
        Release(lastUnit);
    }

    private void Acquire(int unit) => _paramBases[unit] = (nint)_storage.AcquireParameters(unit);

    private void Release(int unit)
    {
        _storage.ReleaseParameters(unit);
        _paramBases[unit] = 0;
    }

    private void AcquireGradients(int unit)
    {
        if (!BaseFrozen)
        {
            _gradBases[unit] = (nint)_storage.AcquireGradients(unit);
        }
    }

    private void GradientsReady(int unit)
    {
        if (!BaseFrozen)
        {
            _storage.GradientsReady(unit);
            _gradBases[unit] = 0;
        }
    }

    /// <summary>output = input·Wᵀ + b, plus scale·(input·Aᵀ)·Bᵀ when the layer carries an adapter.</summary>
    private void LinearForward(int layer, LoraTarget target, float* output, float* input, float* weight, float* bias, int rows, int inDim, int outDim)
    {
        MatMul.Forward(output, input, weight, bias, rows, inDim, outDim);
        if (_lora?.Slot(layer, target) is not LoraSlot slot)
        {
            return;
        }
        int rank = _lora.Settings.Rank;
        float* hidden = _loraSaved!.Pointer + _loraSavedOffsets![layer, (int)target];
        float* adapter = _lora.Parameters.Pointer;
        // hidden (N, r) = scale · input·Aᵀ ; output += hidden·Bᵀ
        MatMul.Forward(hidden, input, adapter + slot.A, null, rows, inDim, rank);
        System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(hidden, rows * rank), _lora.Settings.Scale, new Span<float>(hidden, rows * rank));
        Gemm.Multiply(rows, outDim, rank, MatrixView.RowMajor(hidden, rank), MatrixView.Transposed(adapter + slot.B, rank), output, outDim, accumulate: true);
    }

    /// <summary>
    /// Backward of <see cref="LinearForward"/>: dInput = dOutput·W (+ adapter path); base weight and bias
    /// gradients unless the base is frozen; adapter gradients dB += dOutputᵀ·hidden, dA += scale·(dOutput·B)ᵀ·input.
    /// </summary>
    private void LinearBackward(int layer, LoraTarget target, float* dInput, long weight, long bias, float* dOutput, float* input,
        int rows, int inDim, int outDim)
    {
        MatMul.Backward(dInput, BaseGrad(weight), bias >= 0 ? BaseGrad(bias) : null, dOutput, input, Param(weight), rows, inDim, outDim);
        if (_lora?.Slot(layer, target) is not LoraSlot slot)
        {
            return;
        }
        int rank = _lora.Settings.Rank;
        float* hidden = _loraSaved!.Pointer + _loraSavedOffsets![layer, (int)target];
        float* dHidden = _loraScratch!.Pointer;
        float* adapter = _lora.Parameters.Pointer, grads = LoraGradients!.Pointer;
        // Through B: dHidden (N, r) = dOutput·B ; dB (out, r) += dOutputᵀ·hidden.
        MatMul.Backward(dHidden, grads + slot.B, null, dOutput, hidden, adapter + slot.B, rows, rank, outDim);
        System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(dHidden, rows * rank), _lora.Settings.Scale, new Span<float>(dHidden, rows * rank));
        // Through A: dA (r, in) += dHiddenᵀ·input ; dInput += dHidden·A.
        MatMul.Backward(dInput, grads + slot.A, null, dHidden, input, adapter + slot.A, rows, inDim, rank, accumulateInputGradient: true);
    }

    /// <summary>Gradient pointer of a base parameter, or null while the base is frozen (LoRA).</summary>
    private float* BaseGrad(long offset) => BaseFrozen ? null : Grad(offset);

    private AttentionShape ShapeOf(int layer)
    {
        GptConfig config = _model.Config;
        return new AttentionShape(config.HeadCount, config.HeadDim, config.WindowOf(layer), config.AttentionScaleOf(layer));
    }

    private float* Activation(long offset) => _activations.Pointer + offset;

    /// <summary>A parameter of an acquired unit (offsets are global; the unit may live anywhere).</summary>
    private float* Param(long offset)
    {
        int unit = _model.Layout.UnitOf(offset);
        return (float*)_paramBases[unit] + (offset - _model.Layout.Units[unit].Start);
    }

    private float* Grad(long offset)
    {
        int unit = _model.Layout.UnitOf(offset);
        return (float*)_gradBases[unit] + (offset - _model.Layout.Units[unit].Start);
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _activations.Dispose();
        _fullLogits?.Dispose();
        _gradients?.Dispose();
        LoraGradients?.Dispose();
        _loraSaved?.Dispose();
        _loraScratch?.Dispose();
        NativeMemory.Free(_tokens);
        NativeMemory.Free(_targets);
        NativeMemory.Free(_positions);
    }
}
