using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Tests.Inference;
using SharpGpt.Model.Training;
using Xunit;

namespace SharpGpt.Model.Tests.Backends;

public class ComputeBackendsTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    public void TheCpuBackendIsTheDefault(string? name) => Assert.Same(CpuBackend.Instance, ComputeBackends.Resolve(name));

    [Fact]
    public void AnUnknownBackendIsNamedInTheError()
    {
        var error = Assert.Throws<SharpGptException>(() => ComputeBackends.Resolve("cuda"));
        Assert.Contains("cuda", error.Message);
        Assert.Contains("cpu", error.Message);
    }

    [Fact]
    public void TheCpuBackendBuildsTheEngineClasses()
    {
        using GptModel model = InferenceSessionTests.RandomModel(ModelFamily.Gpt2);
        using ITrainingGraph graph = CpuBackend.Instance.CreateTrainingGraph(model, 2, 8);
        using IInferenceSession session = CpuBackend.Instance.CreateInferenceSession(model, slots: 2, maxTokensPerStep: 8);
        Assert.IsType<TrainingGraph>(graph);
        Assert.IsType<InferenceSession>(session);
        Assert.Equal((2, 8), (graph.MaxBatch, graph.MaxTime));
        Assert.Equal(2, session.SlotCount);
    }
}
