using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class GeluTests
{
    /// <summary>
    /// The vector path computes tanh(u) as 1 − 2/(e^{2u} + 1); the cancellation near u = 0 costs about
    /// 1e-7 absolute, and Vector512.Exp is within a few ulps. 1e-6 absolute + 1e-5 relative covers both.
    /// </summary>
    private const double Absolute = 1e-6, Relative = 1e-5;

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(31)]
    [InlineData(257)]
    [InlineData(40_000)]
    public void ForwardAndBackwardMatchReference(int count)
    {
        Rng rng = new((ulong)count);
        float[] x = TestArrays.Uniform(rng, count, 6f);
        if (count > 3)
        {
            // Saturation and zero.
            x[0] = 40f;
            x[1] = -40f;
            x[2] = 0f;
        }
        float[] dy = TestArrays.Uniform(rng, count);
        float[] y = new float[count], dx = new float[count], yRef = new float[count], dxRef = new float[count];
        fixed (float* px = x, py = y, pdy = dy, pdx = dx)
        {
            Gelu.Forward(py, px, count);
            Gelu.Backward(pdx, px, pdy, count);
        }
        ReferenceGelu.Forward(yRef, x);
        ReferenceGelu.Backward(dxRef, x, dy);
        NumericAssert.Close(yRef, y, Absolute, Relative, "gelu");
        NumericAssert.Close(dxRef, dx, Absolute, Relative, "gelu backward");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 17)]
    [InlineData(5, 64)]
    [InlineData(9, 3072)]
    [InlineData(70, 257)]
    public void BiasFusedForwardMatchesReference(int rows, int columns)
    {
        Rng rng = new((ulong)(rows * 7 + columns));
        float[] pre = TestArrays.Uniform(rng, rows * columns, 4f), bias = TestArrays.Uniform(rng, columns);
        float[] expectedPre = new float[pre.Length], expected = new float[pre.Length], output = new float[pre.Length];
        for (int i = 0; i < pre.Length; i++)
        {
            expectedPre[i] = pre[i] + bias[i % columns];
        }
        ReferenceGelu.Forward(expected, expectedPre);
        fixed (float* pp = pre, pb = bias, po = output)
        {
            Gelu.ForwardWithBias(po, pp, pb, rows, columns);
        }
        // The biased pre-activation is an exact fp32 add, kept for backward.
        Assert.Equal(expectedPre, pre);
        NumericAssert.Close(expected, output, Absolute, Relative, "gelu(x + bias)");
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        Rng rng = new(4);
        float[] x = TestArrays.Uniform(rng, 53, 4f);
        float[] probe = TestArrays.Uniform(rng, 53);
        float[] dx = new float[53];
        fixed (float* px = x, pp = probe, pdx = dx)
        {
            Gelu.Backward(pdx, px, pp, 53);
        }
        double Loss()
        {
            float[] y = new float[53];
            fixed (float* px = x, py = y)
            {
                Gelu.Forward(py, px, 53);
            }
            return TestArrays.Dot(y, probe);
        }
        FiniteDifference.Check(x, dx, Loss, "gelu");
    }
}
