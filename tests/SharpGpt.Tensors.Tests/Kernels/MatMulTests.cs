using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class MatMulTests
{
    /// <summary>Same fp32 accumulation argument as GemmTests (K ≤ 4096): 2e-5 of the tensor's scale.</summary>
    private const double Tolerance = 2e-5;

    [Theory]
    [InlineData(1, 7, 5)]
    [InlineData(4, 16, 16)]
    [InlineData(17, 33, 31)]
    [InlineData(64, 96, 48)]
    [InlineData(130, 65, 129)]
    public void ForwardAndBackwardMatchReference(int rows, int inChannels, int outChannels)
    {
        Rng rng = new(3);
        float[] x = TestArrays.Uniform(rng, rows * inChannels);
        float[] w = TestArrays.Uniform(rng, outChannels * inChannels);
        float[] bias = TestArrays.Uniform(rng, outChannels);
        float[] dy = TestArrays.Uniform(rng, rows * outChannels);

        float[] y = new float[rows * outChannels], yRef = new float[rows * outChannels];
        ReferenceMatMul.Forward(yRef, x, w, bias, rows, inChannels, outChannels);
        float[] dx = new float[rows * inChannels], dxRef = new float[rows * inChannels];
        float[] dw = TestArrays.Uniform(rng, w.Length), dwRef = (float[])dw.Clone();
        float[] db = TestArrays.Uniform(rng, outChannels), dbRef = (float[])db.Clone();
        ReferenceMatMul.Backward(dxRef, dwRef, dbRef, dy, x, w, rows, inChannels, outChannels);
        fixed (float* px = x, pw = w, pb = bias, py = y, pdy = dy, pdx = dx, pdw = dw, pdb = db)
        {
            MatMul.Forward(py, px, pw, pb, rows, inChannels, outChannels);
            MatMul.Backward(pdx, pdw, pdb, pdy, px, pw, rows, inChannels, outChannels);
        }
        NumericAssert.CloseRelativeToScale(yRef, y, Tolerance, "y");
        NumericAssert.CloseRelativeToScale(dxRef, dx, Tolerance, "dx");
        NumericAssert.CloseRelativeToScale(dwRef, dw, Tolerance, "dw");
        NumericAssert.CloseRelativeToScale(dbRef, db, Tolerance, "db");
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        const int rows = 5, inChannels = 19, outChannels = 11;
        Rng rng = new(5);
        float[] x = TestArrays.Uniform(rng, rows * inChannels);
        float[] w = TestArrays.Uniform(rng, outChannels * inChannels);
        float[] bias = TestArrays.Uniform(rng, outChannels);
        float[] probe = TestArrays.Uniform(rng, rows * outChannels);
        float[] dx = new float[x.Length], dw = new float[w.Length], db = new float[bias.Length];
        fixed (float* px = x, pw = w, pb = bias, pprobe = probe, pdx = dx, pdw = dw, pdb = db)
        {
            MatMul.Backward(pdx, pdw, pdb, pprobe, px, pw, rows, inChannels, outChannels);
        }
        double Loss()
        {
            float[] y = new float[rows * outChannels];
            fixed (float* px = x, pw = w, pb = bias, py = y)
            {
                MatMul.Forward(py, px, pw, pb, rows, inChannels, outChannels);
            }
            return TestArrays.Dot(y, probe);
        }
        FiniteDifference.Check(x, dx, Loss, "dx");
        FiniteDifference.Check(w, dw, Loss, "dw");
        FiniteDifference.Check(bias, db, Loss, "db");
    }
}
