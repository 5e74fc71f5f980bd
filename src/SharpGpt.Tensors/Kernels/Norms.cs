using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Σx² over a long vector (for the global gradient norm), accumulated in double per fixed-size chunk and
/// then summed in chunk order, so the result is the same bit for bit whatever the thread count.
/// </summary>
public static unsafe class Norms
{
    private const int ElementsPerTask = 1 << 16;

    public static double SumOfSquares(float* values, long count)
    {
        if (count <= 0)
        {
            return 0;
        }
        int tasks = (int)((count + ElementsPerTask - 1) / ElementsPerTask);
        double[] partials = new double[tasks];
        fixed (double* p = partials)
        {
            NormArgs args = new() { Values = values, Count = count, Partials = p };
            WorkerPool.Shared.Run(tasks, &Task, &args);
        }
        double sum = 0;
        foreach (double partial in partials)
        {
            sum += partial;
        }
        return sum;
    }

    private struct NormArgs
    {
        public float* Values;
        public long Count;
        public double* Partials;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref NormArgs args = ref *(NormArgs*)argsPointer;
        long start = (long)task * ElementsPerTask;
        int n = (int)Math.Min(ElementsPerTask, args.Count - start);
        float* x = args.Values + start;
        // Blocks of 1024 in float (vectorised), each added to a double: fast and accurate to ~1e-7 relative.
        double sum = 0;
        for (int i = 0; i < n; i += 1024)
        {
            sum += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(x + i, Math.Min(1024, n - i)));
        }
        args.Partials[task] = sum;
    }
}
