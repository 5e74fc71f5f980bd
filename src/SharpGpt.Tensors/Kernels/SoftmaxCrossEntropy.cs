using System.Numerics.Tensors;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Row-wise softmax fused with cross-entropy, always max-subtracted (log-sum-exp), and its backward
/// dlogits = (softmax − onehot(target)) · dloss. A negative target marks a row that carries no loss
/// (padding, or prompt tokens in completion-only fine-tuning).
/// </summary>
public static unsafe class SoftmaxCrossEntropy
{
    private const int RowsPerTask = 4;

    /// <summary>Target value for rows that carry no loss.</summary>
    public const int IgnoreTarget = -1;

    /// <summary>
    /// probabilities (N, V) = softmax(logits (N, V)) (may alias logits, computed in place),
    /// losses (N) = −log p[target] (0 for ignored rows; may be null).
    /// </summary>
    public static void Forward(float* probabilities, float* losses, float* logits, int* targets, int rows, int vocab)
    {
        // Validate before dispatch: an exception inside a worker task cannot be reported cleanly.
        for (int r = 0; targets != null && r < rows; r++)
        {
            if (targets[r] >= vocab || targets[r] < IgnoreTarget)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target {targets[r]} in row {r} is outside the vocabulary of {vocab}.");
            }
        }
        CrossEntropyArgs args = new() { Probabilities = probabilities, Losses = losses, Logits = logits, Targets = targets, Rows = rows, Vocab = vocab };
        WorkerPool.Shared.Run((rows + RowsPerTask - 1) / RowsPerTask, &ForwardTask, &args);
    }

    /// <summary>
    /// dLogits (N, V) = (probabilities − onehot(target)) · dLossScale for each row, zero for ignored rows.
    /// dLogits may alias probabilities. dLossScale is ∂L/∂loss_row, e.g. 1/(number of counted rows) for a mean.
    /// </summary>
    public static void Backward(float* dLogits, float* probabilities, int* targets, float dLossScale, int rows, int vocab)
    {
        CrossEntropyArgs args = new() { Probabilities = probabilities, Logits = dLogits, Targets = targets, Rows = rows, Vocab = vocab, Scale = dLossScale };
        WorkerPool.Shared.Run((rows + RowsPerTask - 1) / RowsPerTask, &BackwardTask, &args);
    }

    /// <summary>
    /// The loss head of a training step in one pass per row: losses (N) as in <see cref="Forward"/> and
    /// dLogits (N, V) as in <see cref="Backward"/>, without keeping the probabilities (dLogits may alias
    /// logits). Training calls this on row chunks right after the lm_head matmul, while the chunk is hot.
    /// </summary>
    public static void ForwardBackward(float* dLogits, float* losses, float* logits, int* targets, float dLossScale, int rows, int vocab)
    {
        for (int r = 0; r < rows; r++)
        {
            if (targets[r] >= vocab || targets[r] < IgnoreTarget)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target {targets[r]} in row {r} is outside the vocabulary of {vocab}.");
            }
        }
        CrossEntropyArgs args = new() { Probabilities = dLogits, Losses = losses, Logits = logits, Targets = targets, Rows = rows, Vocab = vocab, Scale = dLossScale };
        WorkerPool.Shared.Run((rows + RowsPerTask - 1) / RowsPerTask, &ForwardBackwardTask, &args);
    }

    /// <summary>Stable softmax of one row (max-subtracted); output may alias input.</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        float max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, probabilities);
        TensorPrimitives.Exp(probabilities, probabilities);
        float sum = TensorPrimitives.Sum(probabilities);
        TensorPrimitives.Multiply(probabilities, 1f / sum, probabilities);
    }

    /// <summary>Elements per vectorised chunk of <see cref="ExpSum"/> and <see cref="LogSumExp"/> (4 KiB).</summary>
    private const int ExpChunk = 1024;

    /// <summary>
    /// destination = exp(values − shift) and returns its sum. The exponentials are vectorised in chunks of 1,024
    /// whose float sums (terms ≤ 1 when shift is the max, good to ~1e-6 relative) are added in double.
    /// <paramref name="destination"/> may be <paramref name="values"/> itself.
    /// </summary>
    public static double ExpSum(ReadOnlySpan<float> values, float shift, Span<float> destination)
    {
        if (destination.Length != values.Length)
        {
            throw new ArgumentException("destination must have the length of values.", nameof(destination));
        }
        double sum = 0;
        for (int start = 0; start < values.Length; start += ExpChunk)
        {
            int length = Math.Min(ExpChunk, values.Length - start);
            Span<float> chunk = destination.Slice(start, length);
            TensorPrimitives.Subtract(values.Slice(start, length), shift, chunk);
            TensorPrimitives.Exp(chunk, chunk);
            sum += TensorPrimitives.Sum(chunk);
        }
        return sum;
    }

    /// <summary>
    /// log Σ exp(logits), as max + log Σ exp(logits − max), through <see cref="ExpSum"/> one stack chunk at a
    /// time: a 50,257-entry vocabulary costs microseconds rather than 50K scalar Math.Exp calls per scored token.
    /// </summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        Span<float> terms = stackalloc float[ExpChunk];
        double sum = 0;
        for (int start = 0; start < logits.Length; start += ExpChunk)
        {
            int length = Math.Min(ExpChunk, logits.Length - start);
            sum += ExpSum(logits.Slice(start, length), max, terms[..length]);
        }
        return max + Math.Log(sum);
    }

    private struct CrossEntropyArgs
    {
        public float* Probabilities, Losses, Logits;
        public int* Targets;
        public int Rows, Vocab;
        public float Scale;
    }

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref CrossEntropyArgs args = ref *(CrossEntropyArgs*)argsPointer;
        int v = args.Vocab;
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        for (int r = task * RowsPerTask; r < end; r++)
        {
            var logits = new ReadOnlySpan<float>(args.Logits + (long)r * v, v);
            var probabilities = new Span<float>(args.Probabilities + (long)r * v, v);
            int target = args.Targets == null ? IgnoreTarget : args.Targets[r];
            float targetLogit = target >= 0 ? logits[target] : 0f;
            float max = TensorPrimitives.Max(logits);
            TensorPrimitives.Subtract(logits, max, probabilities);
            TensorPrimitives.Exp(probabilities, probabilities);
            float sum = TensorPrimitives.Sum(probabilities);
            TensorPrimitives.Multiply(probabilities, 1f / sum, probabilities);
            if (args.Losses != null)
            {
                // −log softmax[target] = log Σ exp(x − max) − (x_target − max)
                args.Losses[r] = target >= 0 ? MathF.Log(sum) - (targetLogit - max) : 0f;
            }
        }
    }

    private static void ForwardBackwardTask(void* argsPointer, int task)
    {
        ref CrossEntropyArgs args = ref *(CrossEntropyArgs*)argsPointer;
        int v = args.Vocab;
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        for (int r = task * RowsPerTask; r < end; r++)
        {
            var logits = new ReadOnlySpan<float>(args.Logits + (long)r * v, v);
            var dLogits = new Span<float>(args.Probabilities + (long)r * v, v);
            int target = args.Targets[r];
            if (target < 0)
            {
                args.Losses[r] = 0f;
                dLogits.Clear();
                continue;
            }
            float targetLogit = logits[target];
            float max = TensorPrimitives.Max(logits);
            TensorPrimitives.Subtract(logits, max, dLogits);
            TensorPrimitives.Exp(dLogits, dLogits);
            float sum = TensorPrimitives.Sum(dLogits);
            args.Losses[r] = MathF.Log(sum) - (targetLogit - max);
            // dlogits = (exp/sum − onehot)·scale
            TensorPrimitives.Multiply(dLogits, args.Scale / sum, dLogits);
            dLogits[target] -= args.Scale;
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref CrossEntropyArgs args = ref *(CrossEntropyArgs*)argsPointer;
        int v = args.Vocab;
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        for (int r = task * RowsPerTask; r < end; r++)
        {
            var probabilities = new ReadOnlySpan<float>(args.Probabilities + (long)r * v, v);
            var dLogits = new Span<float>(args.Logits + (long)r * v, v);
            int target = args.Targets[r];
            if (target < 0)
            {
                dLogits.Clear();
                continue;
            }
            TensorPrimitives.Multiply(probabilities, args.Scale, dLogits);
            dLogits[target] -= args.Scale;
        }
    }
}
