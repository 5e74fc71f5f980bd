using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class CachedAttentionTests
{
    /// <summary>Same arithmetic as the training kernel, so the same bound (see AttentionTests).</summary>
    private const double Absolute = 2e-5, Relative = 1e-4;

    [Theory]
    [InlineData(9, 2, 8, 0, 9)]   // dense cache holding every position
    [InlineData(20, 3, 5, 4, 7)]  // local window 4 in a ring of 7: positions wrap around
    [InlineData(31, 2, 16, 8, 8)] // ring exactly the window
    [InlineData(12, 1, 17, 0, 12)]
    public void EveryRowMatchesFullAttention(int time, int heads, int headDim, int window, int capacity)
    {
        AttentionShape shape = new(heads, headDim, window, 1f / MathF.Sqrt(headDim));
        int c = shape.Channels;
        Rng rng = new((ulong)(time + heads + headDim + window));
        float[] qkv = TestArrays.Uniform(rng, time * 3 * c);
        float[] expected = new float[time * c], probs = new float[heads * time * time];
        ReferenceAttention.Forward(expected, probs, qkv, 1, time, shape);

        // Feed the sequence one token at a time, as decoding does, writing k and v into the ring first.
        float[] keys = new float[capacity * c], values = new float[capacity * c], actual = new float[time * c];
        fixed (float* pq = qkv, pk = keys, pv = values, pa = actual)
        {
            for (int t = 0; t < time; t++)
            {
                Array.Copy(qkv, t * 3 * c + c, keys, t % capacity * c, c);
                Array.Copy(qkv, t * 3 * c + 2 * c, values, t % capacity * c, c);
                CachedAttentionRow row = new()
                {
                    Query = pq + t * 3 * c,
                    Output = pa + t * c,
                    Keys = pk,
                    Values = pv,
                    Position = t,
                    Capacity = capacity,
                };
                CachedAttention.Forward(&row, 1, shape);
            }
        }
        NumericAssert.Close(expected, actual, Absolute, Relative, "cached attention");
    }

    [Fact]
    public void RejectsACacheSmallerThanTheVisibleSpan()
    {
        AttentionShape shape = new(1, 4, 0, 1f);
        float[] buffer = new float[64];
        Assert.Throws<InvalidOperationException>(() =>
        {
            fixed (float* p = buffer)
            {
                CachedAttentionRow row = new() { Query = p, Output = p + 4, Keys = p + 8, Values = p + 24, Position = 5, Capacity = 4 };
                CachedAttention.Forward(&row, 1, shape);
            }
        });
    }
}
