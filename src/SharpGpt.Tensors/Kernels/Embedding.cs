using System.Numerics.Tensors;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels;

/// <summary>Token plus learned position embedding: out[i] = wte[token[i]] + wpe[position[i]].</summary>
public static unsafe class Embedding
{
    /// <summary>output (N, C) from token ids (N) and positions (N) against wte (V, C) and wpe (P, C).</summary>
    public static void Forward(float* output, int* tokens, int* positions, float* wte, float* wpe, int rows, int channels)
    {
        EmbeddingArgs args = new() { Output = output, Tokens = tokens, Positions = positions, Wte = wte, Wpe = wpe, Rows = rows, Channels = channels };
        WorkerPool.Shared.Run((rows + RowsPerTask - 1) / RowsPerTask, &ForwardTask, &args);
    }

    /// <summary>
    /// dWte (V, C) += scatter of dOutput rows by token, dWpe (P, C) += scatter by position.
    /// Tasks own disjoint channel ranges, so repeated tokens never race.
    /// </summary>
    public static void Backward(float* dWte, float* dWpe, float* dOutput, int* tokens, int* positions, int rows, int channels)
    {
        EmbeddingArgs args = new() { Output = dOutput, Tokens = tokens, Positions = positions, Wte = dWte, Wpe = dWpe, Rows = rows, Channels = channels };
        WorkerPool.Shared.Run((channels + ChannelsPerTask - 1) / ChannelsPerTask, &BackwardTask, &args);
    }

    private const int RowsPerTask = 32;
    private const int ChannelsPerTask = 64;

    private struct EmbeddingArgs
    {
        public float* Output, Wte, Wpe;
        public int* Tokens, Positions;
        public int Rows, Channels;
    }

    private static void ForwardTask(void* argsPointer, int task)
    {
        ref EmbeddingArgs args = ref *(EmbeddingArgs*)argsPointer;
        int c = args.Channels;
        int end = Math.Min(args.Rows, (task + 1) * RowsPerTask);
        for (int i = task * RowsPerTask; i < end; i++)
        {
            TensorPrimitives.Add(
                new ReadOnlySpan<float>(args.Wte + (long)args.Tokens[i] * c, c),
                new ReadOnlySpan<float>(args.Wpe + (long)args.Positions[i] * c, c),
                new Span<float>(args.Output + (long)i * c, c));
        }
    }

    private static void BackwardTask(void* argsPointer, int task)
    {
        ref EmbeddingArgs args = ref *(EmbeddingArgs*)argsPointer;
        int c = args.Channels;
        int c0 = task * ChannelsPerTask;
        int width = Math.Min(ChannelsPerTask, c - c0);
        for (int i = 0; i < args.Rows; i++)
        {
            var grad = new ReadOnlySpan<float>(args.Output + (long)i * c + c0, width);
            if (args.Wte != null)
            {
                var dTok = new Span<float>(args.Wte + (long)args.Tokens[i] * c + c0, width);
                TensorPrimitives.Add(dTok, grad, dTok);
            }
            if (args.Wpe != null)
            {
                var dPos = new Span<float>(args.Wpe + (long)args.Positions[i] * c + c0, width);
                TensorPrimitives.Add(dPos, grad, dPos);
            }
        }
    }
}
