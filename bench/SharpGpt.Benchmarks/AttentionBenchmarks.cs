using BenchmarkDotNet.Attributes;
using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Reference;

namespace SharpGpt.Benchmarks;

/// <summary>
/// Attention on GPT-2 124M shapes (12 heads of 64), one layer: training's tiled forward (B=4, T=256), a 256-token
/// prompt over the KV cache (prefill's tiled prompt blocks), and one decoding row over 1,024 cached positions.
/// </summary>
public unsafe class AttentionBenchmarks
{
    private const int Heads = 12, HeadDim = 64, Channels = Heads * HeadDim, Batch = 4, Time = 256, Context = 1024;
    /// <summary>Of the largest |output|: the relative bound of CachedAttentionTests and AttentionTests (fp32 sums of ≤ 1,024 terms).</summary>
    private const double Tolerance = 1e-4;

    private static readonly AttentionShape Shape = new(Heads, HeadDim, 0, 1f / MathF.Sqrt(HeadDim));
    private NativeBuffer _qkv = null!, _output = null!, _logSumExp = null!, _keys = null!, _values = null!;

    [GlobalSetup]
    public void Setup()
    {
        // qkv holds Context rows; training reads the first Batch·Time, a prompt the first Time.
        _qkv = new NativeBuffer((long)Context * 3 * Channels);
        _output = new NativeBuffer((long)Context * Channels);
        _logSumExp = new NativeBuffer(Batch * Heads * Time);
        _keys = new NativeBuffer((long)Context * Channels);
        _values = new NativeBuffer((long)Context * Channels);
        Verify.Random(Context * 3 * Channels, 7).CopyTo(_qkv.Span);
        for (int t = 0; t < Context; t++)
        {
            // The cache is head-major: [heads, Context, HeadDim].
            for (int h = 0; h < Heads; h++)
            {
                _qkv.Span.Slice(t * 3 * Channels + Channels + h * HeadDim, HeadDim).CopyTo(_keys.Span.Slice((h * Context + t) * HeadDim));
                _qkv.Span.Slice(t * 3 * Channels + 2 * Channels + h * HeadDim, HeadDim).CopyTo(_values.Span.Slice((h * Context + t) * HeadDim));
            }
        }
        // Each kernel against the textbook reference before it is timed.
        float[] expected = new float[Context * Channels];
        ReferenceAttention.Forward(expected.AsSpan(0, Time * Channels), new float[Heads * Time * Time], _qkv.Span[..(Time * 3 * Channels)], 1, Time, Shape);
        Prompt();
        Verify.Close(expected.AsSpan(0, Time * Channels), _output.Span[..(Time * Channels)], Tolerance, "cached attention, prompt blocks");
        FlashForward();
        Verify.Close(expected.AsSpan(0, Time * Channels), _output.Span[..(Time * Channels)], Tolerance, "flash attention forward");
        ReferenceAttention.Forward(expected, new float[Heads * Context * Context], _qkv.Span, 1, Context, Shape);
        Decode();
        int last = (Context - 1) * Channels;
        Verify.Close(expected.AsSpan(last, Channels), _output.Span.Slice(last, Channels), Tolerance, "cached attention, decoding row");
    }

    [Benchmark]
    public void FlashForward() => FlashAttention.Forward(_output.Pointer, _logSumExp.Pointer, _qkv.Pointer, Batch, Time, Shape);

    [Benchmark]
    public void Prompt() => Cached(0, Time, decoding: false);

    [Benchmark]
    public void Decode() => Cached(Context - 1, 1, decoding: true);

    private void Cached(int first, int count, bool decoding)
    {
        CachedAttentionChunk chunk = new()
        {
            Query = _qkv.Pointer + (long)first * 3 * Channels,
            QueryStride = 3 * Channels,
            Output = _output.Pointer + (long)first * Channels,
            OutputStride = Channels,
            Keys = _keys.Pointer,
            Values = _values.Pointer,
            FirstPosition = first,
            Count = count,
            Capacity = Context,
            Decoding = decoding,
        };
        CachedAttention.Forward(&chunk, 1, Shape);
    }
}
