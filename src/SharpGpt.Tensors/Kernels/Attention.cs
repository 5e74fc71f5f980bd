using SharpGpt.Tensors.Simd;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Causal self-attention for training: forward saves the attention probabilities for backward.
/// qkv (B, T, 3C) holds q, k and v side by side per row; head h uses channels [h·hd, (h+1)·hd) of each.
/// One task per (batch, head) pair owns its slice of every output, so no two tasks write the same memory.
/// </summary>
public static unsafe class Attention
{
    /// <summary>
    /// output (B, T, C) and probabilities (B, NH, T, T) from qkv (B, T, 3C).
    /// Entries of a probability row outside the visible band are written as zero.
    /// </summary>
    public static void Forward(float* output, float* probabilities, float* qkv, int batch, int time, AttentionShape shape)
    {
        AttentionArgs args = new() { Output = output, Probabilities = probabilities, Qkv = qkv, Batch = batch, Time = time, Shape = shape };
        WorkerPool.Shared.Run(batch * shape.Heads, &ForwardTask, &args);
    }

    /// <summary>
    /// dQkv (B, T, 3C) = ∂L/∂qkv from dOutput (B, T, C), the forward qkv and the saved probabilities.
    /// dQkv is overwritten.
    /// </summary>
    public static void Backward(float* dQkv, float* dOutput, float* qkv, float* probabilities, int batch, int time, AttentionShape shape)
    {
        AttentionArgs args = new() { Output = dQkv, Probabilities = probabilities, Qkv = qkv, DOutput = dOutput, Batch = batch, Time = time, Shape = shape };
        WorkerPool.Shared.Run(batch * shape.Heads, &BackwardTask, &args);
    }

    private struct AttentionArgs
    {
        public float* Output, Probabilities, Qkv, DOutput;
        public int Batch, Time;
        public AttentionShape Shape;
    }

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref AttentionArgs args = ref *(AttentionArgs*)argsPointer;
        AttentionShape shape = args.Shape;
        int b = task / shape.Heads, h = task % shape.Heads;
        int t = args.Time, c = shape.Channels, hd = shape.HeadDim, rowStride = 3 * c;
        float* rowsBase = args.Qkv + (long)b * t * rowStride;
        for (int i = 0; i < t; i++)
        {
            float* q = rowsBase + (long)i * rowStride + h * hd;
            float* p = args.Probabilities + (((long)b * shape.Heads + h) * t + i) * t;
            int first = shape.FirstVisible(i);
            float max = float.NegativeInfinity;
            for (int j = first; j <= i; j++)
            {
                float score = VectorOps.Dot(q, rowsBase + (long)j * rowStride + c + h * hd, hd) * shape.Scale;
                p[j] = score;
                max = MathF.Max(max, score);
            }
            float sum = 0f;
            for (int j = first; j <= i; j++)
            {
                float e = MathF.Exp(p[j] - max);
                p[j] = e;
                sum += e;
            }
            float inverse = 1f / sum;
            float* o = args.Output + ((long)b * t + i) * c + h * hd;
            VectorOps.Zero(o, hd);
            for (int j = first; j <= i; j++)
            {
                p[j] *= inverse;
                VectorOps.Axpy(p[j], rowsBase + (long)j * rowStride + 2 * c + h * hd, o, hd);
            }
            // Keep the saved row fully defined: zero outside the visible band.
            new Span<float>(p, first).Clear();
            new Span<float>(p + i + 1, t - i - 1).Clear();
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref AttentionArgs args = ref *(AttentionArgs*)argsPointer;
        AttentionShape shape = args.Shape;
        int b = task / shape.Heads, h = task % shape.Heads;
        int t = args.Time, c = shape.Channels, hd = shape.HeadDim, rowStride = 3 * c;
        float* rowsBase = args.Qkv + (long)b * t * rowStride;
        float* dRowsBase = args.Output + (long)b * t * rowStride;
        float* dScores = ScratchArena.Get(ScratchArena.AttentionRowGrad, t);

        for (int i = 0; i < t; i++)
        {
            float* dRow = dRowsBase + (long)i * rowStride + h * hd;
            VectorOps.Zero(dRow, hd);
            VectorOps.Zero(dRow + c, hd);
            VectorOps.Zero(dRow + 2 * c, hd);
        }
        for (int i = 0; i < t; i++)
        {
            float* q = rowsBase + (long)i * rowStride + h * hd;
            float* dq = dRowsBase + (long)i * rowStride + h * hd;
            float* p = args.Probabilities + (((long)b * shape.Heads + h) * t + i) * t;
            float* dO = args.DOutput + ((long)b * t + i) * c + h * hd;
            int first = shape.FirstVisible(i);
            // dP[j] = dO·v_j ; dv_j += p_j·dO
            float weighted = 0f;
            for (int j = first; j <= i; j++)
            {
                float* v = rowsBase + (long)j * rowStride + 2 * c + h * hd;
                float dp = VectorOps.Dot(dO, v, hd);
                dScores[j] = dp;
                weighted += p[j] * dp;
                VectorOps.Axpy(p[j], dO, dRowsBase + (long)j * rowStride + 2 * c + h * hd, hd);
            }
            // Softmax backward: dS[j] = p_j (dP[j] − Σ p·dP); then through the scaled dot product.
            for (int j = first; j <= i; j++)
            {
                float dS = p[j] * (dScores[j] - weighted) * shape.Scale;
                float* k = rowsBase + (long)j * rowStride + c + h * hd;
                VectorOps.Axpy(dS, k, dq, hd);
                VectorOps.Axpy(dS, q, dRowsBase + (long)j * rowStride + c + h * hd, hd);
            }
        }
    }
}
