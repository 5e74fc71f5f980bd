using SharpGpt.Tensors.Kernels;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class SoftmaxCrossEntropyTests
{
    /// <summary>
    /// Probabilities and losses from fp32 exp and a sum over V ≤ 5003 terms: relative error a few 1e-7 per
    /// term, growing like √V. 1e-6 absolute + 1e-4 relative for probabilities, 1e-5 for the loss.
    /// </summary>
    private const double ProbabilityAbsolute = 1e-6, ProbabilityRelative = 1e-4, LossAbsolute = 1e-5;

    /// <summary>
    /// ExpSum / LogSumExp: fp32 exp (a few 1e-7 relative per term) summed in float within 1,024-element chunks
    /// (error growing like √1024 ulps) and in double across chunks: 1e-5 relative on the sum, 1e-5 absolute on
    /// log Σ exp for logits of magnitude ≤ 108 (exp terms ≤ 1 after the shift).
    /// </summary>
    private const double ExpSumRelative = 1e-5, LogSumExpAbsolute = 1e-5;

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(1023)]
    [InlineData(1025)]
    [InlineData(5003)]
    [InlineData(50257)]
    public void ExpSumAndLogSumExpMatchReference(int length)
    {
        float[] logits = TestArrays.Uniform(new Rng((ulong)length), length, 8f);
        logits[length / 2] += 100f;
        float max = logits.Max();
        float[] fast = new float[length], reference = new float[length];
        double fastSum = SoftmaxCrossEntropy.ExpSum(logits, max, fast);
        double referenceSum = ReferenceSoftmaxCrossEntropy.ExpSum(logits, max, reference);
        Assert.InRange(fastSum, referenceSum * (1 - ExpSumRelative), referenceSum * (1 + ExpSumRelative));
        NumericAssert.Close(reference, fast, ProbabilityAbsolute, ProbabilityRelative, "exp terms");
        Assert.Equal(ReferenceSoftmaxCrossEntropy.LogSumExp(logits), SoftmaxCrossEntropy.LogSumExp(logits), LogSumExpAbsolute);
        // In place, as the sampler uses it.
        float[] inPlace = (float[])logits.Clone();
        Assert.Equal(fastSum, SoftmaxCrossEntropy.ExpSum(inPlace, max, inPlace));
        Assert.Equal(fast, inPlace);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 2)]
    [InlineData(5, 17)]
    [InlineData(7, 33)]
    [InlineData(9, 512)]
    [InlineData(4, 5003)]
    public void ForwardAndBackwardMatchReference(int rows, int vocab)
    {
        Rng rng = new((ulong)(rows * vocab));
        float[] logits = TestArrays.Uniform(rng, rows * vocab, 8f);
        // Large logits would overflow a softmax that does not subtract the max.
        logits[0] += 100f;
        int[] targets = TestArrays.Integers(rng, rows, vocab);
        targets[rows - 1] = SoftmaxCrossEntropy.IgnoreTarget;
        float[] probs = new float[logits.Length], losses = new float[rows];
        float[] probsRef = new float[logits.Length], lossesRef = new float[rows], dRef = new float[logits.Length];
        ReferenceSoftmaxCrossEntropy.Forward(probsRef, lossesRef, logits, targets, rows, vocab);
        ReferenceSoftmaxCrossEntropy.Backward(dRef, probsRef, targets, 0.25f, rows, vocab);
        float[] inPlace = (float[])logits.Clone();
        fixed (float* pl = inPlace, pp = probs, ploss = losses)
        fixed (int* pt = targets)
        {
            // In place, as training does it: logits become probabilities, then gradients.
            SoftmaxCrossEntropy.Forward(pl, ploss, pl, pt, rows, vocab);
            Array.Copy(inPlace, probs, probs.Length);
            SoftmaxCrossEntropy.Backward(pl, pl, pt, 0.25f, rows, vocab);
        }
        NumericAssert.Close(probsRef, probs, ProbabilityAbsolute, ProbabilityRelative, "probabilities");
        NumericAssert.Close(lossesRef, losses, LossAbsolute, 1e-6, "losses");
        NumericAssert.Close(dRef, inPlace, ProbabilityAbsolute, ProbabilityRelative, "dlogits");
        Assert.Equal(0f, losses[rows - 1]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 17)]
    [InlineData(6, 33)]
    [InlineData(3, 5003)]
    public void FusedForwardBackwardMatchesReference(int rows, int vocab)
    {
        Rng rng = new((ulong)(rows * vocab + 3));
        float[] logits = TestArrays.Uniform(rng, rows * vocab, 8f);
        logits[0] += 100f;
        int[] targets = TestArrays.Integers(rng, rows, vocab);
        targets[rows / 2] = SoftmaxCrossEntropy.IgnoreTarget;
        float[] probsRef = new float[logits.Length], lossesRef = new float[rows], dRef = new float[logits.Length];
        ReferenceSoftmaxCrossEntropy.Forward(probsRef, lossesRef, logits, targets, rows, vocab);
        ReferenceSoftmaxCrossEntropy.Backward(dRef, probsRef, targets, 0.125f, rows, vocab);
        float[] fused = (float[])logits.Clone(), losses = TestArrays.Uniform(rng, rows);
        fixed (float* pl = fused, ploss = losses)
        fixed (int* pt = targets)
        {
            SoftmaxCrossEntropy.ForwardBackward(pl, ploss, pl, pt, 0.125f, rows, vocab);
        }
        NumericAssert.Close(lossesRef, losses, LossAbsolute, 1e-6, "losses");
        NumericAssert.Close(dRef, fused, ProbabilityAbsolute, ProbabilityRelative, "dlogits");
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        const int rows = 3, vocab = 11;
        Rng rng = new(8);
        float[] logits = TestArrays.Uniform(rng, rows * vocab, 3f);
        int[] targets = [4, SoftmaxCrossEntropy.IgnoreTarget, 10];
        float[] probs = new float[logits.Length], grad = new float[logits.Length];
        fixed (float* pl = logits, pp = probs, pg = grad)
        fixed (int* pt = targets)
        {
            SoftmaxCrossEntropy.Forward(pp, null, pl, pt, rows, vocab);
            SoftmaxCrossEntropy.Backward(pg, pp, pt, 1f, rows, vocab);
        }
        double Loss()
        {
            float[] p = new float[logits.Length], l = new float[rows];
            fixed (float* pl = logits, pp = p, pls = l)
            fixed (int* pt = targets)
            {
                SoftmaxCrossEntropy.Forward(pp, pls, pl, pt, rows, vocab);
            }
            return l.Sum(x => (double)x);
        }
        FiniteDifference.Check(logits, grad, Loss, "dlogits");
    }

    [Fact]
    public void RejectsTargetsOutsideTheVocabulary()
    {
        float[] logits = new float[6];
        int[] targets = [1, 3];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            fixed (float* pl = logits)
            fixed (int* pt = targets)
            {
                SoftmaxCrossEntropy.Forward(pl, null, pl, pt, 2, 3);
            }
        });
    }
}
