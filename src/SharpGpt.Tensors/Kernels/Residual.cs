using System.Numerics.Tensors;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>Residual connection out = a + b, and its backward (the gradient flows unchanged to both inputs).</summary>
public static unsafe class Residual
{
    private const int ElementsPerTask = 1 << 16;

    /// <summary>output (n) = a (n) + b (n). Output may alias a or b.</summary>
    public static void Forward(float* output, float* a, float* b, long count)
    {
        ResidualArgs args = new() { Output = output, A = a, B = b, Count = count };
        WorkerPool.Shared.Run(TaskCount(count), &AddTask, &args);
    }

    /// <summary>dA (n) += dOutput and dB (n) += dOutput; either target may be null.</summary>
    public static void Backward(float* dA, float* dB, float* dOutput, long count)
    {
        if (dA != null)
        {
            Forward(dA, dA, dOutput, count);
        }
        if (dB != null)
        {
            Forward(dB, dB, dOutput, count);
        }
    }

    private static int TaskCount(long count) => (int)((count + ElementsPerTask - 1) / ElementsPerTask);

    private struct ResidualArgs
    {
        public float* Output, A, B;
        public long Count;
    }

    private static void AddTask(void* argsPointer, int task)
    {
        ref ResidualArgs args = ref *(ResidualArgs*)argsPointer;
        long start = (long)task * ElementsPerTask;
        int length = (int)Math.Min(ElementsPerTask, args.Count - start);
        TensorPrimitives.Add(
            new ReadOnlySpan<float>(args.A + start, length),
            new ReadOnlySpan<float>(args.B + start, length),
            new Span<float>(args.Output + start, length));
    }
}
