using SharpGpt.Inference.Sampling;
using Xunit;

namespace SharpGpt.Inference.Tests.Sampling;

public class TokenSamplerTests
{
    private static readonly float[] Logits = [2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 3.0f, -2.0f, 0.2f];

    private static double[] Softmax(float[] logits, float temperature = 1f)
    {
        double[] e = logits.Select(x => Math.Exp(x / temperature)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    private static int[] Histogram(SamplingOptions options, int draws = 40_000)
    {
        var sampler = new TokenSampler(options, Logits.Length);
        int[] counts = new int[Logits.Length];
        for (int i = 0; i < draws; i++)
        {
            counts[sampler.Sample(Logits)]++;
        }
        return counts;
    }

    /// <summary>
    /// 40,000 draws: a frequency's standard error is √(p(1−p)/n) ≤ 0.0025; 5 standard errors (0.0125)
    /// makes a false failure astronomically unlikely while a wrong distribution is off by far more.
    /// </summary>
    private const double FrequencyTolerance = 0.0125;

    [Fact]
    public void GreedyPicksTheArgMaxAndTheLowestIndexOnTies()
    {
        var sampler = new TokenSampler(SamplingOptions.Greedy, 8);
        Assert.Equal(5, sampler.Sample(Logits));
        Assert.Equal(1, TokenSampler.ArgMax([0f, 3f, 3f, 1f]));
    }

    [Theory]
    [InlineData(1.0f)]
    [InlineData(0.5f)]
    [InlineData(1.7f)]
    public void TemperatureSamplingFollowsTheSoftmax(float temperature)
    {
        int[] counts = Histogram(new SamplingOptions { Temperature = temperature, Seed = 1 });
        double[] expected = Softmax(Logits, temperature);
        for (int i = 0; i < counts.Length; i++)
        {
            Assert.InRange(counts[i] / 40_000.0, expected[i] - FrequencyTolerance, expected[i] + FrequencyTolerance);
        }
    }

    [Fact]
    public void TopKSamplesOnlyFromTheKBestInProportion()
    {
        int[] counts = Histogram(new SamplingOptions { TopK = 3, Seed = 2 });
        // The three best: indices 5 (3.0), 0 (2.0), 1 (1.0).
        double[] e = [Math.Exp(3.0), Math.Exp(2.0), Math.Exp(1.0)];
        double sum = e.Sum();
        Assert.InRange(counts[5] / 40_000.0, e[0] / sum - FrequencyTolerance, e[0] / sum + FrequencyTolerance);
        Assert.InRange(counts[0] / 40_000.0, e[1] / sum - FrequencyTolerance, e[1] / sum + FrequencyTolerance);
        Assert.Equal(40_000, counts[5] + counts[0] + counts[1]);
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingTheMass()
    {
        double[] p = Softmax(Logits);
        // Sorted: 5 (0.574), 0 (0.211), 1 (0.078), … ; p = 0.7 needs {5, 0}; p = 0.8 needs {5, 0, 1}.
        int[] counts = Histogram(new SamplingOptions { TopP = 0.7f, Seed = 3 });
        Assert.Equal(40_000, counts[5] + counts[0]);
        double share = p[5] / (p[5] + p[0]);
        Assert.InRange(counts[5] / 40_000.0, share - FrequencyTolerance, share + FrequencyTolerance);
        counts = Histogram(new SamplingOptions { TopP = 0.8f, Seed = 3 });
        Assert.Equal(40_000, counts[5] + counts[0] + counts[1]);
        Assert.True(counts[1] > 0);
    }

    [Fact]
    public void TopKAndTopPCombineInHuggingFaceOrder()
    {
        // top-k 2 leaves {5, 0}, renormalised to 0.73/0.27; top-p 0.7 then keeps only 5.
        int[] counts = Histogram(new SamplingOptions { TopK = 2, TopP = 0.7f, Seed = 4 }, 2_000);
        Assert.Equal(2_000, counts[5]);
    }

    [Fact]
    public void SameSeedSameTokensDifferentSeedDifferentTokens()
    {
        int[] Run(ulong seed)
        {
            var sampler = new TokenSampler(new SamplingOptions { Temperature = 1.5f, Seed = seed }, Logits.Length);
            return Enumerable.Range(0, 50).Select(_ => sampler.Sample(Logits)).ToArray();
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Fact]
    public void LogitBiasAndPenaltiesShiftTheChoice()
    {
        var banned = new TokenSampler(new SamplingOptions { Temperature = 0, LogitBias = new Dictionary<int, float> { [5] = -100 } }, 8);
        Assert.Equal(0, banned.Sample(Logits));
        var forced = new TokenSampler(new SamplingOptions { Temperature = 1, Seed = 1, LogitBias = new Dictionary<int, float> { [6] = 100 } }, 8);
        Assert.Equal(6, forced.Sample(Logits));
        // Greedy with a frequency penalty of 2: token 5 (3.0) is chosen, then drops to 1.0 < token 0 (2.0).
        var penalised = new TokenSampler(new SamplingOptions { Temperature = 0, FrequencyPenalty = 2 }, 8);
        Assert.Equal(5, penalised.Sample(Logits));
        Assert.Equal(0, penalised.Sample(Logits));
        // Presence penalty 1.5 subtracts once: 3.0 − 1.5 = 1.5 < 2.0.
        var present = new TokenSampler(new SamplingOptions { Temperature = 0, PresencePenalty = 1.5f }, 8);
        Assert.Equal(5, present.Sample(Logits));
        Assert.Equal(0, present.Sample(Logits));
    }

    [Theory]
    [InlineData(2.5f, 0, 1f, "temperature")]
    [InlineData(1f, -1, 1f, "top_k")]
    [InlineData(1f, 0, 0f, "top_p")]
    [InlineData(1f, 0, 1.2f, "top_p")]
    public void InvalidOptionsAreRejected(float temperature, int topK, float topP, string parameter)
    {
        var options = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP };
        Assert.Contains(parameter, options.Validate());
        Assert.Throws<ArgumentException>(() => new TokenSampler(options, 8));
    }
}
