using BenchmarkDotNet.Attributes;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Reference;

namespace SharpGpt.Benchmarks;

/// <summary>
/// Decode-shaped matrix-vector products (one row through a 768 → 3072 layer, in cache): fp32, and int8 and int4
/// weights through each integer path (256-bit VNNI, 512-bit AVX-512BW, the 256-bit AVX2 fallback, and the scalar
/// loop that processors without AVX2 run), and bf16 weights.
/// </summary>
public unsafe class QuantizedBenchmarks
{
    private const int K = 768, N = 3072;
    private NativeBuffer _x = null!, _w = null!, _y = null!;
    private QuantizedMatrix _int8 = null!, _int4 = null!, _bf16 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = new NativeBuffer(K);
        _w = new NativeBuffer((long)N * K);
        _y = new NativeBuffer(N);
        Verify.Random(K, 1).CopyTo(_x.Span);
        Verify.Random(N * K, 2).CopyTo(_w.Span);
        _int8 = QuantizedMatrix.Quantize(_w.Pointer, N, K, QuantizationKind.Int8);
        _int4 = QuantizedMatrix.Quantize(_w.Pointer, N, K, QuantizationKind.Int4);
        _bf16 = QuantizedMatrix.Quantize(_w.Pointer, N, K, QuantizationKind.BFloat16);
        foreach (QuantizedMatrix q in new[] { _int8, _int4, _bf16 })
        {
            float[] expected = new float[N];
            ReferenceQuantizedMatMul.Forward(expected, _x.Span, q, default, 1);
            foreach (QuantizedPath path in new[] { QuantizedPath.Vnni, QuantizedPath.Avx512, QuantizedPath.Avx2, QuantizedPath.Scalar })
            {
                QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, q, null, 1, path);
                Verify.Close(expected, _y.Span, 1e-5, $"{q.Kind} {path} matvec");
            }
        }
    }

    [Benchmark(Baseline = true)]
    public void Float32() => Gemm.Multiply(1, N, K, MatrixView.RowMajor(_x.Pointer, K), MatrixView.Transposed(_w.Pointer, K), _y.Pointer, N, false, GemmPath.RowInvariant);

    [Benchmark]
    public void Int8Vnni() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int8, null, 1, QuantizedPath.Vnni);

    [Benchmark]
    public void Int8Avx512() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int8, null, 1, QuantizedPath.Avx512);

    [Benchmark]
    public void Int4Vnni() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int4, null, 1, QuantizedPath.Vnni);

    [Benchmark]
    public void Int4Avx512() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int4, null, 1, QuantizedPath.Avx512);

    [Benchmark]
    public void Int8Avx2() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int8, null, 1, QuantizedPath.Avx2);

    [Benchmark]
    public void Int4Avx2() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int4, null, 1, QuantizedPath.Avx2);

    [Benchmark]
    public void Int8Scalar() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int8, null, 1, QuantizedPath.Scalar);

    [Benchmark]
    public void BFloat16() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _bf16, null, 1);
}
