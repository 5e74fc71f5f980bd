using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class EmbeddingAndResidualTests
{
    /// <summary>Sums of at most a few dozen fp32 values: exact to a few ulps.</summary>
    private const double Absolute = 1e-5;

    [Theory]
    [InlineData(1, 1, 3, 2)]
    [InlineData(7, 17, 5, 9)]
    [InlineData(70, 130, 9, 70)]
    public void EmbeddingMatchesReference(int rows, int channels, int vocab, int positions)
    {
        Rng rng = new((ulong)(rows + channels));
        float[] wte = TestArrays.Uniform(rng, vocab * channels), wpe = TestArrays.Uniform(rng, positions * channels);
        int[] tokens = TestArrays.Integers(rng, rows, vocab), pos = TestArrays.Integers(rng, rows, positions);
        float[] output = new float[rows * channels], expected = new float[rows * channels];
        float[] dOut = TestArrays.Uniform(rng, rows * channels);
        float[] dWte = new float[wte.Length], dWpe = new float[wpe.Length], dWteRef = new float[wte.Length], dWpeRef = new float[wpe.Length];
        fixed (float* po = output, pwte = wte, pwpe = wpe, pd = dOut, pdt = dWte, pdp = dWpe)
        fixed (int* pt = tokens, pp = pos)
        {
            Embedding.Forward(po, pt, pp, pwte, pwpe, rows, channels);
            Embedding.Backward(pdt, pdp, pd, pt, pp, rows, channels);
        }
        ReferenceEmbedding.Forward(expected, tokens, pos, wte, wpe, channels);
        ReferenceEmbedding.Backward(dWteRef, dWpeRef, dOut, tokens, pos, channels);
        NumericAssert.Close(expected, output, Absolute, 0, "embedding");
        NumericAssert.Close(dWteRef, dWte, Absolute, 0, "dwte");
        NumericAssert.Close(dWpeRef, dWpe, Absolute, 0, "dwpe");
    }

    [Fact]
    public void EmbeddingBackwardMatchesFiniteDifferences()
    {
        const int rows = 6, channels = 5;
        Rng rng = new(12);
        float[] wte = TestArrays.Uniform(rng, 4 * channels), wpe = TestArrays.Uniform(rng, 6 * channels);
        int[] tokens = [0, 3, 3, 1, 0, 2], pos = [0, 1, 2, 3, 4, 5];
        float[] probe = TestArrays.Uniform(rng, rows * channels);
        float[] dWte = new float[wte.Length], dWpe = new float[wpe.Length];
        fixed (float* pd = probe, pdt = dWte, pdp = dWpe)
        fixed (int* pt = tokens, pp = pos)
        {
            Embedding.Backward(pdt, pdp, pd, pt, pp, rows, channels);
        }
        double Loss()
        {
            float[] o = new float[rows * channels];
            fixed (float* po = o, pwte = wte, pwpe = wpe)
            fixed (int* pt = tokens, pp = pos)
            {
                Embedding.Forward(po, pt, pp, pwte, pwpe, rows, channels);
            }
            return TestArrays.Dot(o, probe);
        }
        FiniteDifference.Check(wte, dWte, Loss, "dwte");
        FiniteDifference.Check(wpe, dWpe, Loss, "dwpe");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(70_001)]
    [InlineData(200_003)]
    public void ResidualMatchesReference(int count)
    {
        Rng rng = new((ulong)count);
        float[] a = TestArrays.Uniform(rng, count), b = TestArrays.Uniform(rng, count), d = TestArrays.Uniform(rng, count);
        float[] output = new float[count], expected = new float[count];
        float[] dA = TestArrays.Uniform(rng, count), dB = TestArrays.Uniform(rng, count);
        float[] dARef = (float[])dA.Clone(), dBRef = (float[])dB.Clone();
        fixed (float* po = output, pa = a, pb = b, pd = d, pda = dA, pdb = dB)
        {
            Residual.Forward(po, pa, pb, count);
            Residual.Backward(pda, pdb, pd, count);
        }
        ReferenceResidual.Forward(expected, a, b);
        ReferenceResidual.Backward(dARef, dBRef, d);
        NumericAssert.Close(expected, output, 0, 0, "residual");
        NumericAssert.Close(dARef, dA, 0, 0, "dA");
        NumericAssert.Close(dBRef, dB, 0, 0, "dB");
    }

    [Fact]
    public void ResidualBackwardMatchesFiniteDifferences()
    {
        Rng rng = new(1);
        float[] a = TestArrays.Uniform(rng, 9), b = TestArrays.Uniform(rng, 9), probe = TestArrays.Uniform(rng, 9);
        float[] dA = new float[9], dB = new float[9];
        fixed (float* pp = probe, pda = dA, pdb = dB)
        {
            Residual.Backward(pda, pdb, pp, 9);
        }
        double Loss()
        {
            float[] o = new float[9];
            fixed (float* po = o, pa = a, pb = b)
            {
                Residual.Forward(po, pa, pb, 9);
            }
            return TestArrays.Dot(o, probe);
        }
        FiniteDifference.Check(a, dA, Loss, "dA");
        FiniteDifference.Check(b, dB, Loss, "dB");
    }
}

public unsafe class NormsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1023)]
    [InlineData(65_537)]
    [InlineData(300_001)]
    public void SumOfSquaresMatchesReferenceAndIsExactlyRepeatable(int count)
    {
        float[] values = SharpGpt.TestSupport.TestArrays.Uniform(new SharpGpt.Tensors.Random.Rng((ulong)count), count);
        double expected = SharpGpt.Tensors.Reference.ReferenceNorms.SumOfSquares(values);
        fixed (float* p = values)
        {
            double actual = Norms.SumOfSquares(p, count);
            // Float blocks of 1024 summed into double: relative error ~ 1024·2⁻²⁴ worst case, ~1e-6 in practice.
            Assert.InRange(actual, expected * (1 - 1e-5) - 1e-12, expected * (1 + 1e-5) + 1e-12);
            Assert.Equal(actual, Norms.SumOfSquares(p, count));
        }
    }
}
