using SharpGpt.Training.Data;
using Xunit;

namespace SharpGpt.Training.Tests.Data;

public class SequenceSamplerTests(TrainingFixture fixture) : IClassFixture<TrainingFixture>
{
    [Fact]
    public void TargetsAreInputsShiftedByOneAndEpochsCoverEveryWindowOnce()
    {
        using var dataset = TokenDataset.Open(fixture.DataDirectory);
        var sampler = new SequenceSampler(dataset.Train, 16, seed: 3);
        var seen = new HashSet<string>();
        long windows = sampler.SequencesPerEpoch;
        int[] inputs = new int[16], targets = new int[16];
        int[] stream = new int[dataset.Train.Count];
        dataset.Train.Read(0, stream);
        for (long i = 0; i < windows; i++)
        {
            sampler.NextBatch(inputs, targets, 1);
            Assert.Equal(inputs[1..], targets[..15]);
            Assert.True(seen.Add(string.Join(',', inputs)) || seen.Count < windows);
            // Every window is a real slice of the stream at a multiple of T.
            int start = FindWindow(stream, inputs);
            Assert.True(start % 16 == 0, $"window at {start}");
            Assert.Equal(stream[start + 16], targets[15]);
        }
        Assert.Equal(new SamplerPosition(0, windows), sampler.Position);
        sampler.NextBatch(inputs, targets, 1);
        Assert.Equal(new SamplerPosition(1, 1), sampler.Position);
    }

    [Fact]
    public void RanksReadDisjointSharesOfEachGlobalBatch()
    {
        using var dataset = TokenDataset.Open(fixture.DataDirectory);
        var single = new SequenceSampler(dataset.Train, 8, seed: 4);
        int[] all = new int[6 * 8], allTargets = new int[6 * 8];
        single.NextBatch(all, allTargets, 6);
        var shares = Enumerable.Range(0, 3).Select(rank =>
        {
            var sampler = new SequenceSampler(dataset.Train, 8, seed: 4);
            int[] inputs = new int[2 * 8], targets = new int[2 * 8];
            sampler.NextBatch(inputs, targets, 2, rank, 3);
            return inputs;
        }).ToArray();
        // Global batch row i belongs to rank i % 3, at row i / 3.
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(all.AsSpan(i * 8, 8).ToArray(), shares[i % 3].AsSpan(i / 3 * 8, 8).ToArray());
        }
    }

    private static int FindWindow(int[] stream, int[] window)
    {
        for (int s = 0; s + window.Length <= stream.Length; s++)
        {
            if (stream.AsSpan(s, window.Length).SequenceEqual(window))
            {
                return s;
            }
        }
        return -1;
    }
}
