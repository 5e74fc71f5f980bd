using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Simd;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Causal self-attention for training that never materialises the T×T probabilities (the memory-efficient
/// form of FlashAttention): forward keeps only each row's log-sum-exp (B, NH, T); backward recomputes each
/// row's scores from q and k, turns them into probabilities with the saved log-sum-exp, and uses
/// D_i = dO_i·O_i in place of Σ_j p_ij·dP_ij. Working memory is one row of scores per task, so long contexts
/// (GPT-3's 2048) cost O(T) per head instead of O(T²). Dense and locally banded (window) layers alike.
/// qkv (B, T, 3C) holds q, k, v side by side per row; one task per (batch, head) pair.
/// </summary>
public static unsafe class FlashAttention
{
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

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        AttentionShape shape = args.Shape;
        int b = task / shape.Heads, h = task % shape.Heads;
        int t = args.Time, c = shape.Channels, hd = shape.HeadDim, stride = 3 * c;
        float* rows = args.Qkv + (long)b * t * stride;
        float* scores = ScratchArena.Get(ScratchArena.AttentionRow, t);
        float* lse = args.LogSumExp + ((long)b * shape.Heads + h) * t;
        for (int i = 0; i < t; i++)
        {
            float* q = rows + (long)i * stride + h * hd;
            int first = shape.FirstVisible(i);
            float max = float.NegativeInfinity;
            for (int j = first; j <= i; j++)
            {
                float s = VectorOps.Dot(q, rows + (long)j * stride + c + h * hd, hd) * shape.Scale;
                scores[j] = s;
                max = MathF.Max(max, s);
            }
            float sum = 0f;
            for (int j = first; j <= i; j++)
            {
                float e = MathF.Exp(scores[j] - max);
                scores[j] = e;
                sum += e;
            }
            float inverse = 1f / sum;
            float* o = args.Output + ((long)b * t + i) * c + h * hd;
            VectorOps.Zero(o, hd);
            for (int j = first; j <= i; j++)
            {
                VectorOps.Axpy(scores[j] * inverse, rows + (long)j * stride + 2 * c + h * hd, o, hd);
            }
            lse[i] = max + MathF.Log(sum);
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        AttentionShape shape = args.Shape;
        int b = task / shape.Heads, h = task % shape.Heads;
        int t = args.Time, c = shape.Channels, hd = shape.HeadDim, stride = 3 * c;
        float* rows = args.Qkv + (long)b * t * stride;
        float* dRows = args.DQkv + (long)b * t * stride;
        float* lse = args.LogSumExp + ((long)b * shape.Heads + h) * t;
        for (int i = 0; i < t; i++)
        {
            float* dRow = dRows + (long)i * stride + h * hd;
            VectorOps.Zero(dRow, hd);
            VectorOps.Zero(dRow + c, hd);
            VectorOps.Zero(dRow + 2 * c, hd);
        }
        for (int i = 0; i < t; i++)
        {
            float* q = rows + (long)i * stride + h * hd;
            float* dq = dRows + (long)i * stride + h * hd;
            float* dO = args.DOutput + ((long)b * t + i) * c + h * hd;
            float delta = VectorOps.Dot(dO, args.Output + ((long)b * t + i) * c + h * hd, hd);
            int first = shape.FirstVisible(i);
            for (int j = first; j <= i; j++)
            {
                float* k = rows + (long)j * stride + c + h * hd;
                float* v = rows + (long)j * stride + 2 * c + h * hd;
                float p = MathF.Exp(VectorOps.Dot(q, k, hd) * shape.Scale - lse[i]);
                float dp = VectorOps.Dot(dO, v, hd);
                VectorOps.Axpy(p, dO, dRows + (long)j * stride + 2 * c + h * hd, hd);
                float dS = p * (dp - delta) * shape.Scale;
                VectorOps.Axpy(dS, k, dq, hd);
                VectorOps.Axpy(dS, q, dRows + (long)j * stride + c + h * hd, hd);
            }
        }
    }
}
