using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// GELU, tanh approximation (Hugging Face "gelu_new"): 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
/// Since 0.5·(1 + tanh(u)) = σ(2u), this is evaluated as x·σ(2u) = x / (1 + e^(−2u)), which has no
/// cancellation for negative x (where 1 + tanh(u) → 0) and saturates cleanly at ±∞.
/// The derivative is σ + x·2σ(1 − σ)·du/dx.
/// </summary>
public static unsafe class Gelu
{
    internal const float SqrtTwoOverPi = 0.7978845608028654f;

    /// <summary>
    /// The cubic coefficient of the approximation. A field rather than a constant only so that a test can
    /// perturb this one kernel and show that the model parity tests catch it.
    /// </summary>
    internal static float Cubic = 0.044715f;
    private const int ElementsPerTask = 1 << 14;

    /// <summary>output (n) = gelu(input (n)).</summary>
    public static void Forward(float* output, float* input, long count)
    {
        GeluArgs args = new() { Output = output, Input = input, Count = count };
        WorkerPool.Shared.Run(TaskCount(count), &ForwardTask, &args);
    }

    /// <summary>dInput (n) = dOutput (n) · gelu′(input (n)).</summary>
    public static void Backward(float* dInput, float* input, float* dOutput, long count)
    {
        GeluArgs args = new() { Output = dInput, Input = input, DOutput = dOutput, Count = count };
        WorkerPool.Shared.Run(TaskCount(count), &BackwardTask, &args);
    }

    /// <summary>
    /// The bias add of the preceding matmul fused with GELU: preActivation (N, F) += bias (F) in place (kept for
    /// backward), and output (N, F) = gelu(preActivation). One pass instead of the matmul's bias pass plus GELU's.
    /// </summary>
    public static void ForwardWithBias(float* output, float* preActivation, float* bias, int rows, int columns)
    {
        GeluArgs args = new() { Output = output, Input = preActivation, Bias = bias, Rows = rows, Columns = columns };
        int rowsPerTask = Math.Max(1, ElementsPerTask / Math.Max(columns, 1));
        args.RowsPerTask = rowsPerTask;
        WorkerPool.Shared.Run((rows + rowsPerTask - 1) / rowsPerTask, &BiasForwardTask, &args);
    }

    private static int TaskCount(long count) => (int)((count + ElementsPerTask - 1) / ElementsPerTask);

    private struct GeluArgs
    {
        public float* Output, Input, DOutput, Bias;
        public long Count;
        public int Rows, Columns, RowsPerTask;
    }

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref GeluArgs args = ref *(GeluArgs*)argsPointer;
        long start = (long)task * ElementsPerTask;
        ForwardSpan(args.Output + start, args.Input + start, (int)Math.Min(ElementsPerTask, args.Count - start));
    }

    private static void BiasForwardTask(void* argsPointer, int task)
    {
        ref GeluArgs args = ref *(GeluArgs*)argsPointer;
        int end = Math.Min(args.Rows, (task + 1) * args.RowsPerTask), n = args.Columns;
        var bias = new ReadOnlySpan<float>(args.Bias, n);
        for (int r = task * args.RowsPerTask; r < end; r++)
        {
            float* x = args.Input + (long)r * n;
            var row = new Span<float>(x, n);
            System.Numerics.Tensors.TensorPrimitives.Add(row, bias, row);
            ForwardSpan(args.Output + (long)r * n, x, n);
        }
    }

    private static void ForwardSpan(float* y, float* x, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                Vector512<float> v = Vector512.Load(x + i);
                (v * Sigmoid2U(v)).Store(y + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> v = Vector256.Load(x + i);
                Vector256<float> u = Vector256.Create(SqrtTwoOverPi) * (v + Vector256.Create(Cubic) * v * v * v);
                (v / (Vector256<float>.One + Vector256.Exp(-(u + u)))).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = x[i] * ScalarSigmoid2U(x[i]);
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref GeluArgs args = ref *(GeluArgs*)argsPointer;
        long start = (long)task * ElementsPerTask;
        int n = (int)Math.Min(ElementsPerTask, args.Count - start);
        float* x = args.Input + start;
        float* dy = args.DOutput + start;
        float* dx = args.Output + start;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                Vector512<float> v = Vector512.Load(x + i);
                Vector512<float> s = Sigmoid2U(v);
                Vector512<float> du = Vector512.Create(SqrtTwoOverPi) * (Vector512<float>.One + Vector512.Create(3f * Cubic) * v * v);
                Vector512<float> grad = s + (v + v) * s * (Vector512<float>.One - s) * du;
                (grad * Vector512.Load(dy + i)).Store(dx + i);
            }
        }
        for (; i < n; i++)
        {
            float v = x[i];
            float s = ScalarSigmoid2U(v);
            float du = SqrtTwoOverPi * (1f + 3f * Cubic * v * v);
            dx[i] = (s + 2f * v * s * (1f - s) * du) * dy[i];
        }
    }

    /// <summary>σ(2u) = 1 / (1 + e^(−2u)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sigmoid2U(Vector512<float> v)
    {
        Vector512<float> u = Vector512.Create(SqrtTwoOverPi) * (v + Vector512.Create(Cubic) * v * v * v);
        return Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-(u + u)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScalarSigmoid2U(float x)
    {
        float u = SqrtTwoOverPi * (x + Cubic * x * x * x);
        return 1f / (1f + MathF.Exp(-2f * u));
    }
}
