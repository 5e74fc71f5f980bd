using BenchmarkDotNet.Attributes;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Benchmarks;

/// <summary>
/// Prompt-shaped products (256 rows through a 768 → 3072 layer): the fp32 packed GEMM, the integer kernel built for
/// decoding, and the packed GEMM with int8 / int4 weights dequantized as they are packed (what prompt rows use).
/// </summary>
public unsafe class QuantizedPromptBenchmarks
{
    private const int Rows = 256, K = 768, N = 3072;

    /// <summary>Of the largest |output|: the dequantizing product is an fp32 GEMM of the same values (GemmTests' bound).</summary>
    private const double Tolerance = 2e-5;

    private NativeBuffer _x = null!, _w = null!, _y = null!, _dequantized = null!;
    private QuantizedMatrix _int8 = null!, _int4 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = new NativeBuffer(Rows * K);
        _w = new NativeBuffer((long)N * K);
        _y = new NativeBuffer((long)Rows * N);
        _dequantized = new NativeBuffer((long)N * K);
        Verify.Random(Rows * K, 1).CopyTo(_x.Span);
        Verify.Random(N * K, 2).CopyTo(_w.Span);
        _int8 = QuantizedMatrix.Quantize(_w.Pointer, N, K, QuantizationKind.Int8);
        _int4 = QuantizedMatrix.Quantize(_w.Pointer, N, K, QuantizationKind.Int4);
        foreach (QuantizedMatrix q in new[] { _int8, _int4 })
        {
            // The reference: the fp32 GEMM of the weights dequantized row by row.
            for (int n = 0; n < N; n++)
            {
                q.DequantizeRow(n, _dequantized.Pointer + (long)n * K);
            }
            float[] expected = new float[Rows * N];
            fixed (float* e = expected)
            {
                Gemm.Multiply(Rows, N, K, MatrixView.RowMajor(_x.Pointer, K), MatrixView.Transposed(_dequantized.Pointer, K), e, N, false, GemmPath.Packed);
            }
            DequantizingMatMul.Forward(_y.Pointer, _x.Pointer, q, null, Rows);
            Verify.Close(expected, _y.Span, Tolerance, $"{q.Kind} dequantizing GEMM");
        }
    }

    [Benchmark(Baseline = true)]
    public void Float32Packed() => Gemm.Multiply(Rows, N, K, MatrixView.RowMajor(_x.Pointer, K), MatrixView.Transposed(_w.Pointer, K), _y.Pointer, N, false, GemmPath.Packed);

    [Benchmark]
    public void Int8IntegerKernel() => QuantizedMatMul.Forward(_y.Pointer, _x.Pointer, _int8, null, Rows);

    [Benchmark]
    public void Int8Dequantizing() => DequantizingMatMul.Forward(_y.Pointer, _x.Pointer, _int8, null, Rows);

    [Benchmark]
    public void Int4Dequantizing() => DequantizingMatMul.Forward(_y.Pointer, _x.Pointer, _int4, null, Rows);
}
