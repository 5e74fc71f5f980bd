using System.Numerics.Tensors;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// The linear layer y = x·Wᵀ + b with W stored [out, in] (nn.Linear order, each output row contiguous),
/// and its backward pass. All three products go through the one packed <see cref="Gemm"/>.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>
    /// output (N, OC) = input (N, C) · weight (OC, C)ᵀ + bias (OC). <paramref name="bias"/> may be null.
    /// </summary>
    public static void Forward(float* output, float* input, float* weight, float* bias, int rows, int inChannels, int outChannels, GemmPath path = GemmPath.Auto)
    {
        Gemm.Gemm.Multiply(rows, outChannels, inChannels,
            MatrixView.RowMajor(input, inChannels),
            MatrixView.Transposed(weight, inChannels),
            output, outChannels, accumulate: false, path);
        if (bias != null)
        {
            AddBias(output, bias, rows, outChannels);
        }
    }

    /// <summary>
    /// Given dOutput (N, OC): dInput (N, C) (+)= dOutput · weight; dWeight (OC, C) += dOutputᵀ · input;
    /// dBias (OC) += Σ_rows dOutput. dInput is overwritten unless <paramref name="accumulateInputGradient"/>.
    /// Any of dInput, dWeight, dBias may be null when that gradient is not needed.
    /// </summary>
    public static void Backward(float* dInput, float* dWeight, float* dBias, float* dOutput, float* input, float* weight,
        int rows, int inChannels, int outChannels, bool accumulateInputGradient = false, GemmPath path = GemmPath.Auto)
    {
        if (dInput != null)
        {
            Gemm.Gemm.Multiply(rows, inChannels, outChannels,
                MatrixView.RowMajor(dOutput, outChannels),
                MatrixView.RowMajor(weight, inChannels),
                dInput, inChannels, accumulateInputGradient, path);
        }
        if (dWeight != null)
        {
            Gemm.Gemm.Multiply(outChannels, inChannels, rows,
                MatrixView.Transposed(dOutput, outChannels),
                MatrixView.RowMajor(input, inChannels),
                dWeight, inChannels, accumulate: true, path);
        }
        if (dBias != null)
        {
            ColumnSums(dBias, dOutput, rows, outChannels);
        }
    }

    /// <summary>Adds bias (OC) to every row of output (N, OC).</summary>
    public static void AddBias(float* output, float* bias, int rows, int outChannels)
    {
        RowArgs args = new() { Output = output, Source = bias, Rows = rows, Columns = outChannels };
        WorkerPool.Shared.Run(TaskCount(rows), &AddBiasTask, &args);
    }

    /// <summary>sums (OC) += column sums of matrix (N, OC). Threads own disjoint column ranges, so no reduction races.</summary>
    public static void ColumnSums(float* sums, float* matrix, int rows, int columns)
    {
        RowArgs args = new() { Output = sums, Source = matrix, Rows = rows, Columns = columns };
        int chunks = (columns + ColumnChunk - 1) / ColumnChunk;
        WorkerPool.Shared.Run(chunks, &ColumnSumsTask, &args);
    }

    private const int RowsPerTask = 16;
    private const int ColumnChunk = 256;

    private static int TaskCount(int rows) => (rows + RowsPerTask - 1) / RowsPerTask;

    private struct RowArgs
    {
        public float* Output, Source;
        public int Rows, Columns;
    }

    private static void AddBiasTask(void* argsPointer, int task)
    {
        ref RowArgs args = ref *(RowArgs*)argsPointer;
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        var bias = new ReadOnlySpan<float>(args.Source, args.Columns);
        for (int r = task * RowsPerTask; r < end; r++)
        {
            var row = new Span<float>(args.Output + (long)r * args.Columns, args.Columns);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    private static void ColumnSumsTask(void* argsPointer, int task)
    {
        ref RowArgs args = ref *(RowArgs*)argsPointer;
        int c0 = task * ColumnChunk;
        int width = Math.Min(ColumnChunk, args.Columns - c0);
        var sums = new Span<float>(args.Output + c0, width);
        for (int r = 0; r < args.Rows; r++)
        {
            TensorPrimitives.Add(sums, new ReadOnlySpan<float>(args.Source + (long)r * args.Columns + c0, width), sums);
        }
    }
}
