using System.Runtime.Intrinsics;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels.Quantized;

/// <summary>
/// output (M, N) = input (M, K) · Wᵀ (+ bias) with W in bf16 (<see cref="QuantizationKind.BFloat16"/>): the input
/// stays fp32 and each loaded group of 32 weights widens to two fp32 vectors (a shift of the 16 stored bits; 16
/// weights into two Vector256 on AVX2-class machines), so the products and sums are fp32 like the fp32 decode path,
/// on half the bytes. Each thread walks its contiguous range
/// of weight rows as one sequential stream (see <see cref="StreamingSplit"/>). Every element is computed by the same
/// <see cref="Dot"/>, so results are row-invariant.
/// </summary>
internal static unsafe class BFloat16MatMul
{
    /// <summary>The vector width of the dot products; tests force each one.</summary>
    public enum Width
    {
        /// <summary>The widest the hardware accelerates.</summary>
        Auto,
        Vector512,
        Vector256,
        Scalar,
    }

    /// <summary>Weight rows per cache tile: with several input rows, 32 rows of K = 3072 (192 KiB) stay in L2 while every input row uses them.</summary>
    private const int TileColumns = 32;

    public static void Forward(float* output, float* input, QuantizedMatrix weights, float* bias, int rows, Width width = Width.Auto)
    {
        width = width switch
        {
            Width.Auto when Vector512.IsHardwareAccelerated => Width.Vector512,
            Width.Auto when Vector256.IsHardwareAccelerated => Width.Vector256,
            Width.Auto => Width.Scalar,
            _ => width,
        };
        if ((width == Width.Vector512 && !Vector512.IsHardwareAccelerated) || (width == Width.Vector256 && !Vector256.IsHardwareAccelerated))
        {
            throw new PlatformNotSupportedException($"{width} is not hardware-accelerated here.");
        }
        int threads = WorkerPool.Shared.ThreadCount;
        byte* board = stackalloc byte[StreamingSplit.BoardBytes(threads)];
        var args = new Args
        {
            Output = output, Input = input, Bias = bias, Rows = rows,
            Weights = new QuantizedRows(weights), N = weights.Rows,
            Width = width,
            Split = new StreamingSplit(weights.Rows, (long)weights.Groups * weights.BytesPerGroup, board, threads),
        };
        WorkerPool.Shared.Run(args.Split.Tasks, &Task, &args);
    }

    private struct Args
    {
        public float* Output, Input, Bias;
        public QuantizedRows Weights;
        public int Rows, N;
        public Width Width;
        public StreamingSplit Split;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        while (args.Split.TryClaim(task, out int first, out int last))
        {
            Rows(ref args, first, last);
        }
    }

    /// <summary>Outputs first..last of every input row.</summary>
    private static void Rows(ref Args args, int first, int last)
    {
        int k = args.Weights.Columns, n = args.N;
        for (int j0 = first; j0 < last; j0 += TileColumns)
        {
            int j1 = Math.Min(last, j0 + TileColumns);
            for (int i = 0; i < args.Rows; i++)
            {
                float* x = args.Input + (long)i * k, y = args.Output + (long)i * n;
                for (int j = j0; j < j1; j++)
                {
                    ushort* w = (ushort*)args.Weights.Group(j, 0);
                    float value = args.Width switch
                    {
                        Width.Vector512 => Dot(x, w, k),
                        Width.Vector256 => Dot256(x, w, k),
                        _ => DotScalar(x, w, k),
                    };
                    y[j] = args.Bias != null ? value + args.Bias[j] : value;
                }
            }
        }
    }

    /// <summary>
    /// x·w over K: each group of 32 weights widens to two vectors, which go to two accumulators (so two FMA
    /// chains run at once), then the elements of a partial last group in scalar code.
    /// </summary>
    private static float Dot(float* x, ushort* w, int k)
    {
        Vector512<float> low = default, high = default;
        int p = 0;
        for (; p + 32 <= k; p += 32)
        {
            (Vector512<float> a, Vector512<float> b) = QuantizedRows.WidenBFloat16(w + p);
            low = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), a, low);
            high = Vector512.FusedMultiplyAdd(Vector512.Load(x + p + 16), b, high);
        }
        float result = Vector512.Sum(low + high);
        for (; p < k; p++)
        {
            result += x[p] * QuantizedMatrix.FromBFloat16(w[p]);
        }
        return result;
    }

    /// <summary><see cref="Dot"/> on 256-bit vectors (AVX2-class machines): 16 weights per step.</summary>
    private static float Dot256(float* x, ushort* w, int k)
    {
        Vector256<float> low = default, high = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            Vector256<ushort> packed = Vector256.Load(w + p);
            low = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.ShiftLeft(Vector256.WidenLower(packed), 16).AsSingle(), low);
            high = Vector256.FusedMultiplyAdd(Vector256.Load(x + p + 8), Vector256.ShiftLeft(Vector256.WidenUpper(packed), 16).AsSingle(), high);
        }
        float result = Vector256.Sum(low + high);
        for (; p < k; p++)
        {
            result += x[p] * QuantizedMatrix.FromBFloat16(w[p]);
        }
        return result;
    }

    private static float DotScalar(float* x, ushort* w, int k)
    {
        float result = 0;
        for (int p = 0; p < k; p++)
        {
            result += x[p] * QuantizedMatrix.FromBFloat16(w[p]);
        }
        return result;
    }
}
