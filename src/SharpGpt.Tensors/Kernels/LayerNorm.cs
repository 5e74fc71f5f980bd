using System.Numerics.Tensors;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// LayerNorm over the channel dimension: y = (x − mean) · rstd · weight + bias, rstd = 1/√(var + ε),
/// with the biased variance PyTorch uses. The row statistics (mean, rstd) are saved for backward.
/// </summary>
public static unsafe class LayerNorm
{
    private const int RowsPerTask = 16;

    /// <summary>
    /// output (N, C) from input (N, C), weight (C), bias (C). mean (N) and rstd (N) receive the row
    /// statistics when not null (training); inference passes null.
    /// </summary>
    public static void Forward(float* output, float* mean, float* rstd, float* input, float* weight, float* bias, int rows, int channels, float epsilon)
    {
        LayerNormArgs args = new()
        {
            Output = output, Mean = mean, Rstd = rstd, Input = input, Weight = weight, Bias = bias,
            Rows = rows, Channels = channels, Epsilon = epsilon,
        };
        WorkerPool.Shared.Run((rows + RowsPerTask - 1) / RowsPerTask, &ForwardTask, &args);
    }

    /// <summary>
    /// The residual add fused with the LayerNorm that follows it (one pass over each row while it is in L1):
    /// residual (N, C) = a + b, then output = LayerNorm(residual) as in <see cref="Forward"/>.
    /// residual may alias a or b; mean and rstd may be null.
    /// </summary>
    public static void ResidualForward(float* residual, float* output, float* mean, float* rstd, float* a, float* b,
        float* weight, float* bias, int rows, int channels, float epsilon)
    {
        LayerNormArgs args = new()
        {
            Output = output, Mean = mean, Rstd = rstd, Input = residual, ResidualA = a, ResidualB = b, Weight = weight, Bias = bias,
            Rows = rows, Channels = channels, Epsilon = epsilon,
        };
        WorkerPool.Shared.Run((rows + RowsPerTask - 1) / RowsPerTask, &ForwardTask, &args);
    }

    /// <summary>
    /// dInput (N, C) (+)= ∂L/∂x; dWeight (C) += Σ dOut·x̂; dBias (C) += Σ dOut, from dOutput (N, C),
    /// the forward input, weight and the saved mean/rstd. dInput is overwritten unless <paramref name="accumulate"/>.
    /// Row tasks are a fixed partition (not one per thread), so the weight-gradient sums are reproducible
    /// whatever the thread count. dWeight and dBias may both be null when the LayerNorm is frozen.
    /// </summary>
    public static void Backward(float* dInput, float* dWeight, float* dBias, float* dOutput, float* input, float* weight,
        float* mean, float* rstd, int rows, int channels, bool accumulate = false)
    {
        int tasks = (rows + RowsPerTask - 1) / RowsPerTask;
        float* partials = ScratchArena.Get(ScratchArena.Partials, (long)tasks * 2 * channels);
        LayerNormArgs args = new()
        {
            Output = dInput, Mean = mean, Rstd = rstd, Input = input, Weight = weight, DOutput = dOutput,
            Partials = partials, Rows = rows, Channels = channels, Accumulate = accumulate,
        };
        WorkerPool.Shared.Run(tasks, &BackwardTask, &args);
        if (dWeight == null)
        {
            // Frozen LayerNorm (LoRA fine-tuning): only the input gradient is wanted.
            return;
        }
        var dw = new Span<float>(dWeight, channels);
        var db = new Span<float>(dBias, channels);
        for (int t = 0; t < tasks; t++)
        {
            float* partial = partials + (long)t * 2 * channels;
            TensorPrimitives.Add(dw, new ReadOnlySpan<float>(partial, channels), dw);
            TensorPrimitives.Add(db, new ReadOnlySpan<float>(partial + channels, channels), db);
        }
    }

    private struct LayerNormArgs
    {
        public float* Output, Mean, Rstd, Input, ResidualA, ResidualB, Weight, Bias, DOutput, Partials;
        public int Rows, Channels;
        public float Epsilon;
        public bool Accumulate;
    }

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref LayerNormArgs args = ref *(LayerNormArgs*)argsPointer;
        int c = args.Channels;
        var weight = new ReadOnlySpan<float>(args.Weight, c);
        var bias = new ReadOnlySpan<float>(args.Bias, c);
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        for (int r = task * RowsPerTask; r < end; r++)
        {
            if (args.ResidualA != null)
            {
                TensorPrimitives.Add(new ReadOnlySpan<float>(args.ResidualA + (long)r * c, c), new ReadOnlySpan<float>(args.ResidualB + (long)r * c, c),
                    new Span<float>(args.Input + (long)r * c, c));
            }
            var x = new ReadOnlySpan<float>(args.Input + (long)r * c, c);
            var y = new Span<float>(args.Output + (long)r * c, c);
            float mean = TensorPrimitives.Sum(x) / c;
            TensorPrimitives.Subtract(x, mean, y);
            // Two-pass variance: Σ(x − mean)² does not cancel catastrophically the way Σx² − mean² can.
            float variance = TensorPrimitives.SumOfSquares(y) / c;
            float rstd = 1f / MathF.Sqrt(variance + args.Epsilon);
            TensorPrimitives.Multiply(y, rstd, y);
            TensorPrimitives.FusedMultiplyAdd(y, weight, bias, y);
            if (args.Mean != null)
            {
                args.Mean[r] = mean;
                args.Rstd[r] = rstd;
            }
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref LayerNormArgs args = ref *(LayerNormArgs*)argsPointer;
        int c = args.Channels;
        float* scratch = ScratchArena.Get(ScratchArena.LayerNormRow, 2L * c);
        var norm = new Span<float>(scratch, c);
        var dNorm = new Span<float>(scratch + c, c);
        var weight = new ReadOnlySpan<float>(args.Weight, c);
        var dWeight = new Span<float>(args.Partials + (long)task * 2 * c, c);
        var dBias = new Span<float>(args.Partials + (long)task * 2 * c + c, c);
        dWeight.Clear();
        dBias.Clear();
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        for (int r = task * RowsPerTask; r < end; r++)
        {
            var x = new ReadOnlySpan<float>(args.Input + (long)r * c, c);
            var dy = new ReadOnlySpan<float>(args.DOutput + (long)r * c, c);
            var dx = new Span<float>(args.Output + (long)r * c, c);
            float mean = args.Mean[r], rstd = args.Rstd[r];
            // x̂ = (x − mean)·rstd ; ∂L/∂x̂ = dy·w
            TensorPrimitives.Subtract(x, mean, norm);
            TensorPrimitives.Multiply(norm, rstd, norm);
            TensorPrimitives.Multiply(dy, weight, dNorm);
            TensorPrimitives.Add(dBias, dy, dBias);
            TensorPrimitives.FusedMultiplyAdd(dy, norm, dWeight, dWeight);
            // ∂L/∂x = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))
            float meanDNorm = TensorPrimitives.Sum(dNorm) / c;
            float meanDNormNorm = TensorPrimitives.Dot(dNorm, norm) / c;
            TensorPrimitives.FusedMultiplyAdd(norm, -meanDNormNorm, dNorm, dNorm);
            TensorPrimitives.Subtract(dNorm, meanDNorm, dNorm);
            if (args.Accumulate)
            {
                TensorPrimitives.FusedMultiplyAdd(dNorm, rstd, dx, dx);
            }
            else
            {
                TensorPrimitives.Multiply(dNorm, rstd, dx);
            }
        }
    }
}
