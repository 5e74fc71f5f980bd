using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class FlashAttentionTests
{
    /// <summary>
    /// Scores are dot products over d_head ≤ 80 in fp32 and the softmax sums at most T ≤ 70 terms; the backward
    /// recomputes the probabilities from the saved log-sum-exp: a few ulps of O(1) values. 2e-5 absolute + 1e-4 relative.
    /// </summary>
    private const double Absolute = 2e-5, Relative = 1e-4;

    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // batch, time, heads, headDim, window (0 = dense)
        { 1, 1, 1, 1, 0 },
        { 2, 5, 2, 3, 0 },
        { 1, 9, 3, 16, 0 },
        { 2, 17, 2, 17, 4 },
        { 1, 33, 4, 8, 1 },
        { 3, 20, 2, 64, 7 },
        { 1, 70, 2, 80, 0 },
        { 2, 40, 1, 33, 40 },
        { 1, 100, 2, 16, 20 }, // several query blocks whose keys start mid-sequence
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndBackwardMatchReference(int batch, int time, int heads, int headDim, int window)
    {
        AttentionShape shape = new(heads, headDim, window, 1f / MathF.Sqrt(headDim));
        int c = heads * headDim;
        Rng rng = new((ulong)(batch * 5 + time * 11 + heads * 3 + headDim + window));
        float[] qkv = TestArrays.Uniform(rng, batch * time * 3 * c, 1.5f);
        float[] dOut = TestArrays.Uniform(rng, batch * time * c);
        float[] outRef = new float[batch * time * c], probsRef = new float[batch * heads * time * time], dRef = new float[qkv.Length];
        ReferenceAttention.Forward(outRef, probsRef, qkv, batch, time, shape);
        ReferenceAttention.Backward(dRef, dOut, qkv, probsRef, batch, time, shape);
        // Outputs start as noise: the kernel must overwrite, not accumulate.
        float[] output = TestArrays.Uniform(rng, outRef.Length), lse = new float[batch * heads * time], dQkv = TestArrays.Uniform(rng, qkv.Length);
        fixed (float* pq = qkv, po = output, pl = lse, pd = dOut, pdq = dQkv)
        {
            FlashAttention.Forward(po, pl, pq, batch, time, shape);
            FlashAttention.Backward(pdq, pd, pq, po, pl, batch, time, shape);
        }
        NumericAssert.Close(outRef, output, Absolute, Relative, "output");
        NumericAssert.Close(dRef, dQkv, Absolute, Relative, "dqkv");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void BackwardMatchesFiniteDifferences(int window)
    {
        const int batch = 2, time = 7, heads = 2, headDim = 5;
        AttentionShape shape = new(heads, headDim, window, 0.8f);
        int c = heads * headDim;
        Rng rng = new(31);
        float[] qkv = TestArrays.Uniform(rng, batch * time * 3 * c), probe = TestArrays.Uniform(rng, batch * time * c);
        float[] output = new float[batch * time * c], lse = new float[batch * heads * time], dQkv = new float[qkv.Length];
        fixed (float* pq = qkv, po = output, pl = lse, pp = probe, pd = dQkv)
        {
            FlashAttention.Forward(po, pl, pq, batch, time, shape);
            FlashAttention.Backward(pd, pp, pq, po, pl, batch, time, shape);
        }
        FiniteDifference.Check(qkv, dQkv, () => TestArrays.Dot(Run(qkv, shape, batch, time), probe), $"dqkv window {window}", directions: 4, coordinates: 8);
    }

    [Fact]
    public void LocalWindowIgnoresPositionsOutsideTheBand()
    {
        // With window 2, changing the value of position 0 must not change the output at position 3.
        const int time = 4, heads = 1, headDim = 4;
        AttentionShape shape = new(heads, headDim, 2, 1f);
        Rng rng = new(2);
        float[] qkv = TestArrays.Uniform(rng, time * 3 * headDim);
        float[] before = Run(qkv, shape, 1, time);
        for (int d = 0; d < headDim; d++)
        {
            qkv[2 * headDim + d] += 10f; // v of position 0
        }
        float[] after = Run(qkv, shape, 1, time);
        for (int d = 0; d < headDim; d++)
        {
            Assert.Equal(before[3 * headDim + d], after[3 * headDim + d]);
            Assert.NotEqual(before[d], after[d]);
        }
    }

    private static float[] Run(float[] qkv, AttentionShape shape, int batch, int time)
    {
        float[] output = new float[batch * time * shape.Channels], lse = new float[batch * shape.Heads * time];
        fixed (float* pq = qkv, po = output, pl = lse)
        {
            FlashAttention.Forward(po, pl, pq, batch, time, shape);
        }
        return output;
    }
}
