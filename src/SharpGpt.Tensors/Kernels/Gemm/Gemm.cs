using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Tensors.Kernels.Gemm;

/// <summary>
/// General matrix multiply C[M×N] (+)= A[M×K] · B[K×N] on strided views, in the BLIS/GotoBLAS style:
/// the K dimension is cut into KC-deep slabs and N into NC-wide blocks; each slab of B is packed once
/// (shared by all threads), A is packed into MR-row panels, and threads split the C block into
/// (MC rows × a few NR-wide panels) tiles that the register-tiled micro-kernels compute.
/// Skinny products (few rows, x·Wᵀ layout, as in decoding) go to <see cref="SkinnyGemm"/> instead,
/// because packing all of W to use it for one row would double the memory traffic.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>Depth of a packed slab: an NR-wide B panel of KC floats per row (32 KiB) stays in L1.</summary>
    internal const int DepthBlock = 256;

    /// <summary>Target rows of an A block; 256×256 floats = 256 KiB stays in L2 (1 MiB on Zen 5), and B is re-read from L3 half as often as with 128.</summary>
    internal const int RowBlockTarget = 256;

    /// <summary>Columns of a packed B block; 256×4096 floats = 4 MiB stays in L3.</summary>
    internal const int ColumnBlock = 4096;

    /// <summary>NR panels per compute task, so tasks are big enough to amortise dispatch yet many enough to balance.</summary>
    private const int PanelsPerTask = 4;

    /// <summary>
    /// C = (accumulate ? C : 0) + A·B, where C is row-major with row stride <paramref name="ldc"/>.
    /// </summary>
    public static void Multiply(int m, int n, int k, MatrixView a, MatrixView b, float* c, int ldc, bool accumulate, GemmPath path = GemmPath.Auto) =>
        Multiply(m, n, k, a, b, c, ldc, accumulate, path, parallel: true);

    /// <summary>
    /// The same product computed entirely on the calling thread, with that thread's packing scratch: for kernels
    /// that already run one task per worker (tiled attention) and multiply small blocks inside each task.
    /// </summary>
    public static void MultiplyOnThisThread(int m, int n, int k, MatrixView a, MatrixView b, float* c, int ldc, bool accumulate) =>
        Multiply(m, n, k, a, b, c, ldc, accumulate, GemmPath.Auto, parallel: false);

    /// <summary>
    /// C = (accumulate ? C : 0) + A·B on the packed path, where B exists only through <paramref name="packPanel"/>:
    /// called as packPanel(context, k0, kc, col0, width, nr, dst), it writes depth [k0, k0+kc) × columns
    /// [col0, col0+width) of B as one NR-wide panel (k-major, zero-padded to nr columns), like
    /// <see cref="Packing.PackBPanel"/>. Quantized weights use it to be dequantized while they are packed.
    /// </summary>
    public static void MultiplyPanels(int m, int n, int k, MatrixView a, delegate*<void*, int, int, int, int, int, float*, void> packPanel, void* context,
        float* c, int ldc, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(packPanel);
        Multiply(m, n, k, a, default, c, ldc, accumulate, GemmPath.Packed, parallel: true, packPanel, context);
    }

    private static void Multiply(int m, int n, int k, MatrixView a, MatrixView b, float* c, int ldc, bool accumulate, GemmPath path, bool parallel,
        delegate*<void*, int, int, int, int, int, float*, void> packPanel = null, void* packContext = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (ldc < n)
        {
            throw new ArgumentException($"ldc {ldc} is smaller than the {n} columns of C.", nameof(ldc));
        }
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                for (int i = 0; i < m; i++)
                {
                    new Span<float>(c + (long)i * ldc, n).Clear();
                }
            }
            return;
        }
        if (path == GemmPath.RowInvariant)
        {
            if (a.ColStride != 1 || b.RowStride != 1)
            {
                throw new ArgumentException("The row-invariant path needs rows of A and columns of B contiguous (x·Wᵀ).");
            }
            SkinnyGemm.Multiply(m, n, k, a, b, c, ldc, accumulate);
            return;
        }
        if (parallel && path == GemmPath.Auto && SkinnyGemm.Applies(m, a, b))
        {
            SkinnyGemm.Multiply(m, n, k, a, b, c, ldc, accumulate);
            return;
        }

        GemmPath resolved = GemmPathResolver.Resolve(path);
        int mr = GemmPathResolver.TileRows(resolved);
        int nr = GemmPathResolver.TileColumns(resolved);
        int rowBlock = Math.Max(mr, RowBlockTarget / mr * mr);
        int paddedRows = (m + mr - 1) / mr * mr;
        int maxColumns = Math.Min(ColumnBlock, (n + nr - 1) / nr * nr);

        int rowBlocks = (m + rowBlock - 1) / rowBlock;
        GemmArgs args = new()
        {
            A = a,
            B = b,
            C = c,
            Ldc = ldc,
            M = m,
            Mr = mr,
            Nr = nr,
            RowBlock = rowBlock,
            Path = resolved,
            PackedA = ScratchArena.Get(ScratchArena.GemmPackedA, (long)paddedRows * DepthBlock),
            // One block of rows (prompts, attention blocks): each B panel is used by one compute task only, so that
            // task packs it into its own L1/L2-sized buffer instead of every panel going through a shared one first.
            PackBInTask = rowBlocks == 1,
            PackPanel = packPanel,
            PackContext = packContext,
        };
        if (!args.PackBInTask)
        {
            args.PackedB = ScratchArena.Get(ScratchArena.GemmPackedB, (long)DepthBlock * maxColumns);
        }
        for (int jc = 0; jc < n; jc += ColumnBlock)
        {
            args.Jc = jc;
            args.Nc = Math.Min(ColumnBlock, n - jc);
            args.Panels = (args.Nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += DepthBlock)
            {
                args.Pc = pc;
                args.Kc = Math.Min(DepthBlock, k - pc);
                args.Accumulate = accumulate || pc > 0;
                int packBTasks = (args.Panels + PanelsPerTask - 1) / PanelsPerTask;
                if (!args.PackBInTask)
                {
                    Dispatch(parallel, packBTasks, &PackBTask, &args);
                }
                Dispatch(parallel, rowBlocks, &PackATask, &args);
                Dispatch(parallel, rowBlocks * packBTasks, &ComputeTask, &args);
            }
        }
    }

    /// <summary>Runs the tasks on the worker pool, or one after another on this thread.</summary>
    private static void Dispatch(bool parallel, int tasks, delegate*<void*, int, void> body, GemmArgs* args)
    {
        if (parallel)
        {
            WorkerPool.Shared.Run(tasks, body, args);
            return;
        }
        for (int task = 0; task < tasks; task++)
        {
            body(args, task);
        }
    }

    private struct GemmArgs
    {
        public MatrixView A, B;
        public float* C;
        public int Ldc, M, Mr, Nr, RowBlock;
        public GemmPath Path;
        public float* PackedA, PackedB;
        public int Jc, Nc, Panels, Pc, Kc;
        public bool Accumulate, PackBInTask;
        /// <summary>Null: panels are packed from <see cref="B"/>; else they come from this function (see MultiplyPanels).</summary>
        public delegate*<void*, int, int, int, int, int, float*, void> PackPanel;
        public void* PackContext;
    }

    private static void PackBTask(void* argsPointer, int task)
    {
        ref GemmArgs args = ref *(GemmArgs*)argsPointer;
        int firstPanel = task * PanelsPerTask;
        int lastPanel = Math.Min(args.Panels, firstPanel + PanelsPerTask);
        for (int p = firstPanel; p < lastPanel; p++)
        {
            int col0 = p * args.Nr;
            int width = Math.Min(args.Nr, args.Nc - col0);
            PackPanel(ref args, col0, width, args.PackedB + (long)p * args.Kc * args.Nr);
        }
    }

    private static void PackATask(void* argsPointer, int task)
    {
        ref GemmArgs args = ref *(GemmArgs*)argsPointer;
        int row0 = task * args.RowBlock;
        int rows = Math.Min(args.RowBlock, args.M - row0);
        Packing.PackA(args.A, row0, rows, args.Pc, args.Kc, args.Mr, args.PackedA + (long)row0 * args.Kc);
    }

    private static void ComputeTask(void* argsPointer, int task)
    {
        ref GemmArgs args = ref *(GemmArgs*)argsPointer;
        int panelTasks = (args.Panels + PanelsPerTask - 1) / PanelsPerTask;
        int rowBlockIndex = task / panelTasks;
        int firstPanel = task % panelTasks * PanelsPerTask;
        int lastPanel = Math.Min(args.Panels, firstPanel + PanelsPerTask);
        int row0 = rowBlockIndex * args.RowBlock;
        int rowEnd = Math.Min(args.M, row0 + args.RowBlock);
        int mr = args.Mr, nr = args.Nr, kc = args.Kc;
        float* edgeTile = stackalloc float[8 * 32];
        float* ownPanel = args.PackBInTask ? ScratchArena.Get(ScratchArena.GemmTaskPanel, (long)kc * nr) : null;

        for (int p = firstPanel; p < lastPanel; p++)
        {
            int col0 = p * nr;
            int width = Math.Min(nr, args.Nc - col0);
            float* packedB;
            if (args.PackBInTask)
            {
                packedB = ownPanel;
                PackPanel(ref args, col0, width, packedB);
            }
            else
            {
                packedB = args.PackedB + (long)p * kc * nr;
            }
            for (int i = row0; i < rowEnd; i += mr)
            {
                int height = Math.Min(mr, rowEnd - i);
                float* packedA = args.PackedA + (long)i * kc;
                float* cTile = args.C + (long)i * args.Ldc + args.Jc + col0;
                if (height == mr && width == nr)
                {
                    RunTile(args.Path, kc, packedA, packedB, cTile, args.Ldc, args.Accumulate);
                }
                else
                {
                    // Partial tile at the matrix edge: compute the full tile into scratch, then merge the valid part.
                    RunTile(args.Path, kc, packedA, packedB, edgeTile, nr, accumulate: false);
                    for (int r = 0; r < height; r++)
                    {
                        float* dst = cTile + (long)r * args.Ldc;
                        float* src = edgeTile + r * nr;
                        if (args.Accumulate)
                        {
                            for (int j = 0; j < width; j++)
                            {
                                dst[j] += src[j];
                            }
                        }
                        else
                        {
                            for (int j = 0; j < width; j++)
                            {
                                dst[j] = src[j];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Columns [col0, col0 + width) of the current block, depth slab [Pc, Pc + Kc), as one panel at dst.</summary>
    private static void PackPanel(ref GemmArgs args, int col0, int width, float* dst)
    {
        if (args.PackPanel != null)
        {
            args.PackPanel(args.PackContext, args.Pc, args.Kc, args.Jc + col0, width, args.Nr, dst);
        }
        else
        {
            Packing.PackBPanel(args.B, args.Pc, args.Kc, args.Jc + col0, width, args.Nr, dst);
        }
    }

    internal static void RunTile(GemmPath path, int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        switch (path)
        {
            case GemmPath.Vector512:
                MicroKernels.Tile8x32(kc, a, b, c, ldc, accumulate);
                break;
            case GemmPath.Vector256:
                MicroKernels.Tile6x16(kc, a, b, c, ldc, accumulate);
                break;
            default:
                MicroKernels.Tile4x4(kc, a, b, c, ldc, accumulate);
                break;
        }
    }
}
