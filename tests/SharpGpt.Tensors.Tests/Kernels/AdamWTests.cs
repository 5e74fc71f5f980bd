using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class AdamWTests
{
    /// <summary>A handful of fp32 operations per element: a few ulps of the O(1) parameters.</summary>
    private const double Absolute = 1e-6, Relative = 1e-5;

    [Theory]
    [InlineData(1, 1)]
    [InlineData(15, 1)]
    [InlineData(17, 3)]
    [InlineData(33, 10)]
    [InlineData(100_003, 2)]
    public void MatchesReferenceOverSeveralSteps(int count, int steps)
    {
        Rng rng = new((ulong)count);
        float[] p = TestArrays.Uniform(rng, count), m = new float[count], v = new float[count];
        float[] pRef = (float[])p.Clone(), mRef = new float[count], vRef = new float[count];
        for (int s = 1; s <= steps; s++)
        {
            float[] g = TestArrays.Uniform(rng, count, 0.1f);
            AdamWStep step = new(1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, s, GradientScale: 0.5f);
            fixed (float* pp = p, pg = g, pm = m, pv = v)
            {
                AdamW.Update(pp, pg, pm, pv, count, step);
            }
            ReferenceAdamW.Update(pRef, g, mRef, vRef, step);
        }
        NumericAssert.Close(pRef, p, Absolute, Relative, "parameters");
        NumericAssert.Close(mRef, m, Absolute, Relative, "first moment");
        NumericAssert.Close(vRef, v, Absolute, Relative, "second moment");
    }

    [Fact]
    public void FirstStepMovesEachParameterByAboutTheLearningRate()
    {
        // With bias correction, step 1 gives m̂/√v̂ = sign(g): every parameter moves by lr (no decay here).
        float[] p = [1f, -2f, 3f], g = [0.5f, -0.001f, 4f], m = new float[3], v = new float[3];
        fixed (float* pp = p, pg = g, pm = m, pv = v)
        {
            AdamW.Update(pp, pg, pm, pv, 3, new AdamWStep(0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1));
        }
        NumericAssert.Close([0.9f, -1.9f, 2.9f], p, 1e-5, 0, "parameters");
    }
}
