using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class LayerNormTests
{
    /// <summary>
    /// Normalised outputs are O(1); fp32 sums over C ≤ 1031 channels and one rsqrt lose a few ulps
    /// (≈1e-6). 2e-5 absolute plus 1e-5 relative leaves margin for the weight/bias scaling.
    /// </summary>
    private const double Absolute = 2e-5, Relative = 1e-5;

    private const float Epsilon = 1e-5f;

    public static TheoryData<int, int> Shapes() => new() { { 1, 1 }, { 1, 7 }, { 3, 15 }, { 5, 16 }, { 2, 17 }, { 33, 64 }, { 17, 100 }, { 40, 768 }, { 3, 1031 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndBackwardMatchReference(int rows, int channels)
    {
        Rng rng = new((ulong)(rows * 31 + channels));
        float[] x = TestArrays.Uniform(rng, rows * channels, 3f);
        // An offset makes the two-pass variance matter.
        for (int i = 0; i < x.Length; i++)
        {
            x[i] += 5f;
        }
        float[] w = TestArrays.Uniform(rng, channels), b = TestArrays.Uniform(rng, channels);
        float[] dy = TestArrays.Uniform(rng, rows * channels);

        float[] y = new float[x.Length], mean = new float[rows], rstd = new float[rows];
        float[] yRef = new float[x.Length], meanRef = new float[rows], rstdRef = new float[rows];
        ReferenceLayerNorm.Forward(yRef, meanRef, rstdRef, x, w, b, rows, channels, Epsilon);
        float[] dx = new float[x.Length], dw = TestArrays.Uniform(rng, channels), db = TestArrays.Uniform(rng, channels);
        float[] dxRef = new float[x.Length], dwRef = (float[])dw.Clone(), dbRef = (float[])db.Clone();
        fixed (float* px = x, pw = w, pb = b, py = y, pm = mean, pr = rstd, pdy = dy, pdx = dx, pdw = dw, pdb = db)
        {
            LayerNorm.Forward(py, pm, pr, px, pw, pb, rows, channels, Epsilon);
            LayerNorm.Backward(pdx, pdw, pdb, pdy, px, pw, pm, pr, rows, channels);
        }
        ReferenceLayerNorm.Backward(dxRef, dwRef, dbRef, dy, x, w, meanRef, rstdRef, rows, channels);
        NumericAssert.Close(yRef, y, Absolute, Relative, "y");
        NumericAssert.Close(meanRef, mean, Absolute, Relative, "mean");
        NumericAssert.Close(rstdRef, rstd, Absolute, Relative, "rstd");
        NumericAssert.Close(dxRef, dx, Absolute, Relative, "dx");
        NumericAssert.CloseRelativeToScale(dwRef, dw, Absolute, "dw");
        NumericAssert.CloseRelativeToScale(dbRef, db, Absolute, "db");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ResidualFusedForwardMatchesReference(int rows, int channels)
    {
        Rng rng = new((ulong)(rows * 13 + channels));
        float[] a = TestArrays.Uniform(rng, rows * channels, 3f), b = TestArrays.Uniform(rng, rows * channels);
        float[] w = TestArrays.Uniform(rng, channels), bias = TestArrays.Uniform(rng, channels);
        float[] sumRef = new float[a.Length], yRef = new float[a.Length], meanRef = new float[rows], rstdRef = new float[rows];
        ReferenceResidual.Forward(sumRef, a, b);
        ReferenceLayerNorm.Forward(yRef, meanRef, rstdRef, sumRef, w, bias, rows, channels, Epsilon);
        float[] sum = new float[a.Length], y = new float[a.Length], mean = new float[rows], rstd = new float[rows];
        fixed (float* ps = sum, py = y, pm = mean, pr = rstd, pa = a, pb = b, pw = w, pbias = bias)
        {
            LayerNorm.ResidualForward(ps, py, pm, pr, pa, pb, pw, pbias, rows, channels, Epsilon);
        }
        NumericAssert.Close(sumRef, sum, 0, 1e-7, "residual");
        NumericAssert.Close(yRef, y, Absolute, Relative, "y");
        NumericAssert.Close(meanRef, mean, Absolute, Relative, "mean");
        NumericAssert.Close(rstdRef, rstd, Absolute, Relative, "rstd");
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        const int rows = 4, channels = 37;
        Rng rng = new(9);
        float[] x = TestArrays.Uniform(rng, rows * channels, 2f);
        float[] w = TestArrays.Uniform(rng, channels), b = TestArrays.Uniform(rng, channels);
        float[] probe = TestArrays.Uniform(rng, rows * channels);
        float[] dx = new float[x.Length], dw = new float[channels], db = new float[channels];
        float[] scratch = new float[x.Length], mean = new float[rows], rstd = new float[rows];
        fixed (float* px = x, pw = w, pb = b, py = scratch, pm = mean, pr = rstd, pp = probe, pdx = dx, pdw = dw, pdb = db)
        {
            LayerNorm.Forward(py, pm, pr, px, pw, pb, rows, channels, Epsilon);
            LayerNorm.Backward(pdx, pdw, pdb, pp, px, pw, pm, pr, rows, channels);
        }
        double Loss()
        {
            float[] y = new float[x.Length];
            fixed (float* px = x, pw = w, pb = b, py = y)
            {
                LayerNorm.Forward(py, null, null, px, pw, pb, rows, channels, Epsilon);
            }
            return TestArrays.Dot(y, probe);
        }
        FiniteDifference.Check(x, dx, Loss, "dx");
        FiniteDifference.Check(w, dw, Loss, "dweight");
        FiniteDifference.Check(b, db, Loss, "dbias");
    }
}
