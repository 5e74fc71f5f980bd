using BenchmarkDotNet.Attributes;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Reference;

namespace SharpGpt.Benchmarks;

/// <summary>The forward GEMM (x·Wᵀ) on GPT-2 124M block shapes, packed and row-invariant paths.</summary>
[MemoryDiagnoser]
public unsafe class GemmBenchmarks
{
    private NativeBuffer _a = null!, _b = null!, _c = null!;

    [Params(1, 64, 1024)]
    public int Rows;

    [Params("768x2304", "3072x768")]
    public string Shape = "";

    private int K => int.Parse(Shape.Split('x')[0]);
    private int N => int.Parse(Shape.Split('x')[1]);

    [GlobalSetup]
    public void Setup()
    {
        _a = new NativeBuffer((long)Rows * K);
        _b = new NativeBuffer((long)N * K);
        _c = new NativeBuffer((long)Rows * N);
        Verify.Random(Rows * K, 1).CopyTo(_a.Span);
        Verify.Random(N * K, 2).CopyTo(_b.Span);
        // Check one row of each path against the reference before timing anything.
        float[] expected = new float[N];
        ReferenceGemm.Multiply(1, N, K, _a.Span[..K], K, 1, _b.Span, 1, K, expected, N, false);
        foreach (GemmPath path in new[] { GemmPath.Auto, GemmPath.RowInvariant })
        {
            Gemm.Multiply(Rows, N, K, MatrixView.RowMajor(_a.Pointer, K), MatrixView.Transposed(_b.Pointer, K), _c.Pointer, N, false, path);
            Verify.Close(expected, _c.Span[..N], 2e-5, $"GEMM {path}");
        }
    }

    [Benchmark(Baseline = true)]
    public void Packed() => Gemm.Multiply(Rows, N, K, MatrixView.RowMajor(_a.Pointer, K), MatrixView.Transposed(_b.Pointer, K), _c.Pointer, N, false, GemmPath.Auto);

    [Benchmark]
    public void RowInvariant() => Gemm.Multiply(Rows, N, K, MatrixView.RowMajor(_a.Pointer, K), MatrixView.Transposed(_b.Pointer, K), _c.Pointer, N, false, GemmPath.RowInvariant);

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }
}
