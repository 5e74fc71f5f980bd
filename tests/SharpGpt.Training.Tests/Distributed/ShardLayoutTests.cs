using SharpGpt.Model;
using SharpGpt.Training.Distributed;
using Xunit;

namespace SharpGpt.Training.Tests.Distributed;

public class ShardLayoutTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void ShardsCoverEveryUnitExactlyOnce(int ranks)
    {
        var layout = new ParameterLayout(TrainingFixture.TinyConfig);
        var covered = new int[layout.TotalFloats];
        for (int r = 0; r < ranks; r++)
        {
            var shard = new ShardLayout(layout, ranks, r);
            long local = 0;
            foreach (ShardSegment segment in shard.Segments)
            {
                Assert.Equal(local, segment.LocalStart);
                local += segment.Length;
                for (long i = segment.GlobalStart; i < segment.GlobalStart + segment.Length; i++)
                {
                    covered[i]++;
                }
            }
            Assert.Equal(shard.LocalLength, local);
            // Optimizer groups never cross a tensor or a segment, and decay only matrices.
            foreach (var group in shard.OptimizerGroups())
            {
                ParameterTensor tensor = layout.Tensors.Single(t => group.Global >= t.Offset && group.Global < t.Offset + t.Length);
                Assert.True(group.Global + group.Length <= tensor.Offset + tensor.Length);
                Assert.Equal(tensor.Kind == ParameterKind.Matrix, group.Decay);
            }
        }
        Assert.All(covered, c => Assert.Equal(1, c));
    }
}
