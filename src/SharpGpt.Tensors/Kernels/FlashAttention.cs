using System.Numerics.Tensors;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Simd;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Causal self-attention for training, tiled like FlashAttention-2: one task per (batch, head) walks blocks of
/// <see cref="QueryBlock"/> queries, and every product inside a block is a small GEMM on the task's own thread
/// (S = Q·Kᵀ, O = P·V; backward dP = dO·Vᵀ, dQ = dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO), so the arithmetic runs on the
/// register-tiled micro-kernels instead of one dot product per (query, key) pair. The T×T probabilities never
/// exist: forward keeps each row's log-sum-exp (B, NH, T), backward recomputes P from it and uses
/// D_i = dO_i·O_i in place of Σ_j p_ij·dP_ij. Working memory is two QueryBlock × T score blocks per thread.
/// Dense and locally banded (window) layers alike: a block only visits the keys its rows can see.
/// qkv (B, T, 3C) holds q, k, v side by side per row.
/// </summary>
public static unsafe class FlashAttention
{
    /// <summary>
    /// Queries per block. 32 rows keep the diagonal block's wasted (masked) half small (≈ 1/(2·T/32) of the work)
    /// while the block GEMMs still fill whole 8-row micro-tiles.
    /// </summary>
    public const int QueryBlock = 32;

    /// <summary>output (B, T, C) and logSumExp (B, NH, T) from qkv (B, T, 3C).</summary>
    public static void Forward(float* output, float* logSumExp, float* qkv, int batch, int time, AttentionShape shape)
    {
        Args args = new() { Output = output, LogSumExp = logSumExp, Qkv = qkv, Batch = batch, Time = time, Shape = shape };
        WorkerPool.Shared.Run(batch * shape.Heads, &ForwardTask, &args);
    }

    /// <summary>
    /// dQkv (B, T, 3C) = ∂L/∂qkv from dOutput (B, T, C), the forward qkv, its output and log-sum-exp. Overwritten.
    /// </summary>
    public static void Backward(float* dQkv, float* dOutput, float* qkv, float* output, float* logSumExp, int batch, int time, AttentionShape shape)
    {
        Args args = new() { DQkv = dQkv, DOutput = dOutput, Qkv = qkv, Output = output, LogSumExp = logSumExp, Batch = batch, Time = time, Shape = shape };
        WorkerPool.Shared.Run(batch * shape.Heads, &BackwardTask, &args);
    }

    private struct Args
    {
        public float* Output, LogSumExp, Qkv, DQkv, DOutput;
        public int Batch, Time;
        public AttentionShape Shape;
    }

    /// <summary>Pointers of one (batch, head) pair: q, k, v rows have stride 3C, output rows stride C.</summary>
    private readonly struct Head
    {
        public Head(ref Args args, int task)
        {
            AttentionShape shape = args.Shape;
            int b = task / shape.Heads, h = task % shape.Heads, c = shape.Channels;
            long firstRow = (long)b * args.Time;
            Q = args.Qkv + firstRow * 3 * c + h * shape.HeadDim;
            Output = args.Output + firstRow * c + h * shape.HeadDim;
            LogSumExp = args.LogSumExp + ((long)b * shape.Heads + h) * args.Time;
            DQ = args.DQkv == null ? null : args.DQkv + firstRow * 3 * c + h * shape.HeadDim;
            DOutput = args.DOutput == null ? null : args.DOutput + firstRow * c + h * shape.HeadDim;
            Stride = 3 * c;
            Channels = c;
        }

        public float* Q { get; }
        public float* K => Q + Channels;
        public float* V => Q + 2 * Channels;
        public float* Output { get; }
        public float* LogSumExp { get; }
        public float* DQ { get; }
        public float* DK => DQ + Channels;
        public float* DV => DQ + 2 * Channels;
        public float* DOutput { get; }
        public int Stride { get; }
        public int Channels { get; }
    }

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        AttentionShape shape = args.Shape;
        Head head = new(ref args, task);
        int t = args.Time, hd = shape.HeadDim, stride = head.Stride;
        float* p = ScratchArena.Get(ScratchArena.AttentionRow, (long)QueryBlock * t);
        for (int i0 = 0; i0 < t; i0 += QueryBlock)
        {
            int rows = Math.Min(QueryBlock, t - i0), j0 = shape.FirstVisible(i0), span = i0 + rows - j0;
            // S (rows × span) = Q_block · K_spanᵀ, then each row becomes its softmax in place.
            Gemm.Gemm.MultiplyOnThisThread(rows, span, hd, MatrixView.RowMajor(head.Q + (long)i0 * stride, stride),
                MatrixView.Transposed(head.K + (long)j0 * stride, stride), p, span, accumulate: false);
            for (int r = 0; r < rows; r++)
            {
                int i = i0 + r;
                Span<float> row = new(p + (long)r * span, span);
                (int first, int count) = Visible(shape, i, j0);
                Span<float> visible = row.Slice(first, count);
                TensorPrimitives.Multiply(visible, shape.Scale, visible);
                float max = TensorPrimitives.Max(visible);
                TensorPrimitives.Subtract(visible, max, visible);
                TensorPrimitives.Exp(visible, visible);
                float sum = TensorPrimitives.Sum(visible);
                TensorPrimitives.Multiply(visible, 1f / sum, visible);
                row[..first].Clear();
                row[(first + count)..].Clear();
                head.LogSumExp[i] = max + MathF.Log(sum);
            }
            // O_block (rows × hd) = P · V_span
            Gemm.Gemm.MultiplyOnThisThread(rows, hd, span, MatrixView.RowMajor(p, span), MatrixView.RowMajor(head.V + (long)j0 * stride, stride),
                head.Output + (long)i0 * head.Channels, head.Channels, accumulate: false);
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        AttentionShape shape = args.Shape;
        Head head = new(ref args, task);
        int t = args.Time, hd = shape.HeadDim, stride = head.Stride, c = head.Channels;
        float* p = ScratchArena.Get(ScratchArena.AttentionRow, (long)QueryBlock * t);
        float* dS = ScratchArena.Get(ScratchArena.AttentionGradients, (long)QueryBlock * t);
        for (int i = 0; i < t; i++)
        {
            VectorOps.Zero(head.DK + (long)i * stride, hd);
            VectorOps.Zero(head.DV + (long)i * stride, hd);
        }
        for (int i0 = 0; i0 < t; i0 += QueryBlock)
        {
            int rows = Math.Min(QueryBlock, t - i0), j0 = shape.FirstVisible(i0), span = i0 + rows - j0;
            float* q = head.Q + (long)i0 * stride, dO = head.DOutput + (long)i0 * c;
            MatrixView kSpan = MatrixView.RowMajor(head.K + (long)j0 * stride, stride);
            MatrixView vSpan = MatrixView.RowMajor(head.V + (long)j0 * stride, stride);
            // Recompute P from the scores and the saved log-sum-exp; dP = dO · V_spanᵀ.
            Gemm.Gemm.MultiplyOnThisThread(rows, span, hd, MatrixView.RowMajor(q, stride), Transpose(kSpan), p, span, accumulate: false);
            Gemm.Gemm.MultiplyOnThisThread(rows, span, hd, MatrixView.RowMajor(dO, c), Transpose(vSpan), dS, span, accumulate: false);
            for (int r = 0; r < rows; r++)
            {
                int i = i0 + r;
                Span<float> pRow = new(p + (long)r * span, span), dRow = new(dS + (long)r * span, span);
                (int first, int count) = Visible(shape, i, j0);
                Span<float> visible = pRow.Slice(first, count), dVisible = dRow.Slice(first, count);
                TensorPrimitives.Multiply(visible, shape.Scale, visible);
                TensorPrimitives.Subtract(visible, head.LogSumExp[i], visible);
                TensorPrimitives.Exp(visible, visible);
                // dS = P ∘ (dP − D) · scale, with D = dO_i · O_i
                float delta = VectorOps.Dot(dO + (long)r * c, head.Output + (long)i * c, hd);
                TensorPrimitives.Subtract(dVisible, delta, dVisible);
                TensorPrimitives.Multiply(dVisible, visible, dVisible);
                TensorPrimitives.Multiply(dVisible, shape.Scale, dVisible);
                pRow[..first].Clear();
                pRow[(first + count)..].Clear();
                dRow[..first].Clear();
                dRow[(first + count)..].Clear();
            }
            // dQ_block = dS · K_span ; dK_span += dSᵀ · Q_block ; dV_span += Pᵀ · dO_block
            Gemm.Gemm.MultiplyOnThisThread(rows, hd, span, MatrixView.RowMajor(dS, span), kSpan, head.DQ + (long)i0 * stride, stride, accumulate: false);
            Gemm.Gemm.MultiplyOnThisThread(span, hd, rows, MatrixView.Transposed(dS, span), MatrixView.RowMajor(q, stride),
                head.DK + (long)j0 * stride, stride, accumulate: true);
            Gemm.Gemm.MultiplyOnThisThread(span, hd, rows, MatrixView.Transposed(p, span), MatrixView.RowMajor(dO, c),
                head.DV + (long)j0 * stride, stride, accumulate: true);
        }
    }

    /// <summary>Columns of a block row (keys j0, j0+1, …) that query <paramref name="i"/> sees: [first, first + count).</summary>
    private static (int First, int Count) Visible(AttentionShape shape, int i, int j0)
    {
        int first = shape.FirstVisible(i) - j0;
        return (first, i - j0 - first + 1);
    }

    private static MatrixView Transpose(MatrixView view) => new(view.Data, view.ColStride, view.RowStride);
}
