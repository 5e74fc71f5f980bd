using BenchmarkDotNet.Attributes;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Reference;

namespace SharpGpt.Benchmarks;

/// <summary>LayerNorm, GELU, softmax + cross-entropy and AdamW on GPT-2 124M training shapes (B·T = 1024).</summary>
public unsafe class ElementwiseBenchmarks
{
    private const int Rows = 1024, Channels = 768, Vocab = 50257;
    private NativeBuffer _x = null!, _y = null!, _w = null!, _b = null!, _mean = null!, _rstd = null!, _big = null!, _logits = null!;
    private NativeBuffer _p = null!, _g = null!, _m = null!, _v = null!;
    private int[] _targets = [];

    [GlobalSetup]
    public void Setup()
    {
        _x = new NativeBuffer(Rows * Channels); _y = new NativeBuffer(Rows * Channels);
        _w = new NativeBuffer(Channels); _b = new NativeBuffer(Channels);
        _mean = new NativeBuffer(Rows); _rstd = new NativeBuffer(Rows);
        _big = new NativeBuffer(Rows * 4 * Channels);
        _logits = new NativeBuffer((long)64 * Vocab);
        _p = new NativeBuffer(1 << 22); _g = new NativeBuffer(1 << 22); _m = new NativeBuffer(1 << 22); _v = new NativeBuffer(1 << 22);
        Verify.Random(Rows * Channels, 1).CopyTo(_x.Span);
        Verify.Random(Channels, 2).CopyTo(_w.Span);
        Verify.Random(Rows * 4 * Channels, 3).CopyTo(_big.Span);
        _targets = Enumerable.Range(0, 64).Select(i => i * 7 % Vocab).ToArray();
        // LayerNorm and GELU against their twins.
        float[] expected = new float[Rows * Channels], mean = new float[Rows], rstd = new float[Rows];
        ReferenceLayerNorm.Forward(expected, mean, rstd, _x.Span, _w.Span, _b.Span, Rows, Channels, 1e-5f);
        LayerNormForward();
        Verify.Close(expected, _y.Span, 2e-5, "LayerNorm");
        float[] gelu = new float[Channels];
        ReferenceGelu.Forward(gelu, _x.Span[..Channels]);
        Gelu.Forward(_y.Pointer, _x.Pointer, Channels);
        Verify.Close(gelu, _y.Span[..Channels], 1e-5, "GELU");
    }

    [Benchmark]
    public void LayerNormForward() => LayerNorm.Forward(_y.Pointer, _mean.Pointer, _rstd.Pointer, _x.Pointer, _w.Pointer, _b.Pointer, Rows, Channels, 1e-5f);

    [Benchmark]
    public void GeluForward() => Gelu.Forward(_big.Pointer, _big.Pointer, (long)Rows * 4 * Channels);

    [Benchmark]
    public void SoftmaxCrossEntropy64Rows()
    {
        fixed (int* t = _targets)
        {
            SoftmaxCrossEntropy.Forward(_logits.Pointer, null, _logits.Pointer, t, 64, Vocab);
        }
    }

    [Benchmark]
    public void AdamW4M() => AdamW.Update(_p.Pointer, _g.Pointer, _m.Pointer, _v.Pointer, _p.Length, new AdamWStep(1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 3));
}
