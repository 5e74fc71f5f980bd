using SharpGpt.Tensors.Random;
using Xunit;

namespace SharpGpt.Tensors.Tests.Random;

public class RngTests
{
    [Fact]
    public void SameSeedSameSequenceAndStateRoundTrips()
    {
        Rng a = new(42), b = new(42);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(a.NextUInt64(), b.NextUInt64());
        }
        Rng restored = Rng.FromState(a.GetState());
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(a.NextDouble(), restored.NextDouble());
        }
        Assert.NotEqual(new Rng(1).NextUInt64(), new Rng(2).NextUInt64());
    }

    [Fact]
    public void UniformAndGaussianHaveTheRightMoments()
    {
        Rng rng = new(7);
        const int n = 200_000;
        double sum = 0, sumSq = 0, gSum = 0, gSq = 0;
        int[] buckets = new int[10];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble();
            sum += u;
            sumSq += u * u;
            buckets[rng.NextInt(10)]++;
            double g = rng.NextGaussian();
            gSum += g;
            gSq += g * g;
        }
        // Standard errors at n = 2e5: mean of U(0,1) ±0.0007, Gaussian mean ±0.0022, variance ±0.003.
        Assert.InRange(sum / n, 0.495, 0.505);
        Assert.InRange(sumSq / n - Math.Pow(sum / n, 2), 1.0 / 12 - 0.003, 1.0 / 12 + 0.003);
        Assert.InRange(gSum / n, -0.01, 0.01);
        Assert.InRange(gSq / n, 0.985, 1.015);
        Assert.All(buckets, c => Assert.InRange(c, n / 10 - 1000, n / 10 + 1000));
    }

    [Fact]
    public void RejectsAnInvalidState() => Assert.Throws<ArgumentException>(() => Rng.FromState([0UL, 0, 0, 0]));
}
