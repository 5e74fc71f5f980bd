using System.Diagnostics;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels.Gemm;

/// <summary>
/// The machine's practical fp32 peak: the GEMM micro-kernel on operands that stay in L1, on every worker at
/// once. Nothing real runs faster, so model FLOP/s divided by this is the MFU (model FLOPs utilisation).
/// </summary>
public static unsafe class PeakFlops
{
    private const int Depth = 256;

    /// <summary>FLOP/s of all workers together, measured over about <paramref name="seconds"/>.</summary>
    public static double Measure(double seconds = 0.5)
    {
        WorkerPool pool = WorkerPool.Shared;
        GemmPath path = GemmPathResolver.Resolve(GemmPath.Auto);
        int mr = GemmPathResolver.TileRows(path), nr = GemmPathResolver.TileColumns(path);
        Args args = new() { Path = path, Mr = mr, Nr = nr, Repeats = 2000 };
        pool.Run(pool.ThreadCount, &Task, &args); // warm-up: JIT, scratch pages
        long tiles = 0;
        var timer = Stopwatch.StartNew();
        while (timer.Elapsed.TotalSeconds < seconds)
        {
            pool.Run(pool.ThreadCount, &Task, &args);
            tiles += (long)pool.ThreadCount * args.Repeats;
        }
        return 2.0 * mr * nr * Depth * tiles / timer.Elapsed.TotalSeconds;
    }

    private struct Args
    {
        public GemmPath Path;
        public int Mr, Nr, Repeats;
    }

    private static void Task(void* argsPointer, int task)
    {
        ref Args args = ref *(Args*)argsPointer;
        // Per-thread operands: one packed A panel, one packed B panel and one C tile, all in L1.
        float* a = ScratchArena.Get(ScratchArena.GemmPackedA, (long)args.Mr * Depth);
        float* b = ScratchArena.Get(ScratchArena.GemmPackedB, (long)args.Nr * Depth);
        float* c = ScratchArena.Get(ScratchArena.Partials, (long)args.Mr * args.Nr);
        new Span<float>(a, args.Mr * Depth).Fill(0.001f);
        new Span<float>(b, args.Nr * Depth).Fill(0.001f);
        for (int i = 0; i < args.Repeats; i++)
        {
            Gemm.RunTile(args.Path, Depth, a, b, c, args.Nr, accumulate: false);
        }
    }
}
